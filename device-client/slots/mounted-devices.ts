// Is a block device in use? Read from /proc/self/mountinfo, whose third field is the mounted
// device's major:minor. Writing an image into a mounted filesystem would corrupt the running system.
import { readFile } from 'node:fs/promises';

/** Linux dev_t split, as glibc's gnu_dev_major/minor do it (rdev fits in a double for real devices). */
export function splitDeviceNumber(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  // 32-bit masks as in glibc: a BigInt ~0xfff would be unbounded and mix the fields.
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & 0xfffff000n));
  const minor = Number((big & 0xffn) | ((big >> 12n) & 0xffffff00n));
  return { major, minor };
}

/** Mount points of the device major:minor in a mountinfo text (empty if not mounted). */
export function mountPointsOf(mountinfo: string, major: number, minor: number): string[] {
  const wanted = `${major}:${minor}`;
  return mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === wanted)
    .map((fields) => fields[4]!.replace(/\\040/g, ' '));
}

export async function mountPointsOfDevice(rdev: number): Promise<string[]> {
  const { major, minor } = splitDeviceNumber(rdev);
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mountPointsOf(text, major, minor);
}

/** Size of a block device from sysfs (512-byte sectors); undefined when sysfs does not say. */
export async function blockDeviceSize(rdev: number): Promise<number | undefined> {
  const { major, minor } = splitDeviceNumber(rdev);
  const text = await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text.trim()) * 512;
}
