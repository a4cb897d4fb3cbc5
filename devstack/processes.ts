// Process bookkeeping for natively started services: is a recorded pid still the
// process we started, who owns a listening port, and stopping a whole process group.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after ")" are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Kernel start time of a process (clock ticks since boot), to tell a reused pid apart. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

export function processGroupOf(pid: number): number | undefined {
  const field = statFields(pid)?.[2];
  return field === undefined ? undefined : Number(field);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return statFields(pid)?.[0] !== 'Z';
}

/** True when `pid` is alive and still the process recorded with `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartTime(pid);
  return startTime === undefined || now === undefined || now === startTime;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Stops a service started as a process-group leader: `signal` to the whole group, then
 * SIGKILL once the grace period is over. Resolves when no member of the group remains
 * (zombies awaiting their parent do not count).
 */
export async function stopProcessGroup(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  const alive = () => groupAlive(pid) && (isAlive(pid) || groupMembers(pid).some((member) => isAlive(member)));
  if (!alive()) return 'gone';
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group vanished in between */
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive()) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  for (let i = 0; i < 50 && alive(); i++) await sleep(100);
  return 'killed';
}

function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (processGroupOf(Number(entry)) === pgid) members.push(Number(entry));
  }
  return members;
}

/** Pid of the process listening on a TCP port (Linux /proc), or undefined if unknown. */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[1] = local address HEX:PORT, cols[3] = state (0A = LISTEN), cols[9] = inode.
      if (cols.length > 9 && cols[3] === '0A' && parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) return Number(entry);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return undefined;
}
