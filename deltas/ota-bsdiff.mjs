// Runs ota-bsdiff (native/ota-bsdiff) for the delta child scripts (plain .mjs: they run without a
// build), and keeps the largest peak RSS of its runs: it runs beside the calling process, so the
// job's peak memory counts both.
// @ts-check
import { execFile } from 'node:child_process';

let largestPeakRssBytes = 0;

/** @param {string} tool @param {string[]} args */
export function runOtaBsdiff(tool, args) {
  return new Promise((resolve, reject) =>
    execFile(tool, args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${tool} failed: ${stderr.trim() || err.message}`));
      largestPeakRssBytes = Math.max(largestPeakRssBytes, JSON.parse(stdout).peakRssBytes ?? 0);
      resolve(undefined);
    }),
  );
}

export function otaBsdiffPeakRssBytes() {
  return largestPeakRssBytes;
}
