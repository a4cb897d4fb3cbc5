// Debian control-file syntax (RFC 822 style stanzas), shared by dpkg and opkg status files.

export type Stanza = Record<string, string>;

/** Split into stanzas; keys are kept as written, continuation lines are folded into the value. */
export function parseControlStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza = {};
  let lastKey: string | undefined;
  const flush = () => {
    if (Object.keys(current).length) stanzas.push(current);
    current = {};
    lastKey = undefined;
  };
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (/^[ \t]/.test(line)) {
      // Continuation of a multi-line field (Description, Conffiles, ...).
      if (lastKey) current[lastKey] += `\n${line.slice(1)}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lastKey = line.slice(0, colon).trim();
    current[lastKey] = line.slice(colon + 1).trim();
  }
  flush();
  return stanzas;
}

/** "install ok installed" (dpkg) / "install user installed" (opkg): last word is the state. */
export function isInstalled(status: string | undefined): boolean {
  if (status === undefined) return true; // status.d fragments (distroless) carry no Status field
  const words = status.trim().split(/\s+/);
  return words[words.length - 1] === 'installed';
}

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string | undefined;
  /** The whole stanza, for the fields one format cares about. */
  fields: Stanza;
}

/** The installed packages of a dpkg or opkg status file: stanzas with Package and Version whose Status says installed. */
export function installedPackages(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const fields of parseControlStanzas(text)) {
    const name = fields['Package'];
    const version = fields['Version'];
    if (!name || !version || !isInstalled(fields['Status'])) continue;
    out.push({ name, version, arch: fields['Architecture'], fields });
  }
  return out;
}
