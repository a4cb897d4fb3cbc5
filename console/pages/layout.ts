// The frame of every console page: navigation, who is signed in with which role, sign-out.
import { html, type Html } from '../html.js';
import type { Principal } from '../../operator/identity.js';

export interface PageContext {
  principal: Principal;
  csrf: string;
}

const NAV = [
  ['rollouts', 'Rollouts'],
  ['releases', 'Releases'],
  ['fleet', 'Fleet'],
  ['audit', 'Audit log'],
  ['cve', 'CVE'],
] as const;

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

export function page(title: string, body: Html, ctx?: PageContext, active?: string): Html {
  const nav = ctx
    ? html`<nav>${NAV.map(([path, label]) => html`<a href="/console/${path}"${path === active ? html` class="active"` : ''}>${label}</a>`)}
        <span class="who" data-testid="who">${ctx.principal.subject} <em>${ctx.principal.role}</em></span>
        <form method="post" action="/console/sign-out" class="inline">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form></nav>`
    : html``;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · edge-ota</title><link rel="stylesheet" href="/console/assets/console.css"><script src="/console/assets/console.js" defer></script></head>
<body><header><a class="brand" href="/console/">edge-ota</a>${nav}</header><main><h1>${title}</h1>${body}</main></body></html>`;
}

export function errorBox(code: string, message: string): Html {
  return html`<p class="error" role="alert" data-testid="error"><strong>${code}</strong> ${message}</p>`;
}

export function when(value: string | null | undefined): Html {
  return value ? html`<time datetime="${value}">${value.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>` : html`-`;
}
