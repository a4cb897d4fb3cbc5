// edge-ota console: the only script. It refreshes the live rollout view every 2 s from its JSON
// endpoint (server-rendered, escaped HTML), and fills the CVE form's textarea from a chosen file.
'use strict';
(function () {
  const live = document.querySelector('[data-live]');
  if (live) {
    let busy = false;
    setInterval(async () => {
      // Do not replace the controls while someone is typing a reason.
      if (busy || (document.activeElement && live.contains(document.activeElement) && document.activeElement.tagName === 'INPUT')) return;
      busy = true;
      try {
        const response = await fetch(live.getAttribute('data-live'), { credentials: 'same-origin', headers: { accept: 'application/json' } });
        if (response.status === 401) return void (window.location.href = '/console/sign-in');
        if (response.ok) {
          const data = await response.json();
          live.innerHTML = data.html;
          live.setAttribute('data-refreshed', String(Date.now()));
        }
      } catch (_) {
        // The next tick tries again.
      } finally {
        busy = false;
      }
    }, 2000);
  }
  for (const input of document.querySelectorAll('input[type=file][data-fills]')) {
    input.addEventListener('change', async () => {
      const file = input.files && input.files[0];
      const target = document.getElementById(input.getAttribute('data-fills'));
      if (file && target) target.value = await file.text();
    });
  }
})();
