/**
 * Headless Chromium for browser tests: Debian's chromium package driven by playwright-core
 * (which ships no browser of its own). When the binary is missing and the test runs as root,
 * it is installed with apt-get; otherwise the caller skips with the reason returned here.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const APT_TIMEOUT_MS = 15 * 60_000;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function apt(args: string[], log: (line: string) => void): boolean {
  log(`chromium: apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: APT_TIMEOUT_MS,
    encoding: 'utf8',
  });
  if (r.status !== 0) log(`chromium: apt-get ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  return r.status === 0;
}

/**
 * Null when Debian's chromium is at CHROMIUM_PATH (installing it first if this process is root
 * and has apt-get), else why it is not: the text for t.skip.
 */
export function ensureChromium(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string | null {
  if (executable(CHROMIUM_PATH)) return null;
  if (process.getuid?.() !== 0) return `${CHROMIUM_PATH} not found and not root: install Debian's chromium (apt-get install chromium) to run this test`;
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return `${CHROMIUM_PATH} not found and no apt-get to install it`;
  // A fresh image has no package lists yet: an install that fails for that is retried after an update.
  if (!apt(['install', '-y', '--no-install-recommends', 'chromium'], log) && !(apt(['update'], log) && apt(['install', '-y', '--no-install-recommends', 'chromium'], log)))
    return `${CHROMIUM_PATH} not found and apt-get could not install chromium (offline?)`;
  return executable(CHROMIUM_PATH) ? null : `apt-get installed chromium but ${CHROMIUM_PATH} is still missing`;
}

/** Debian's chromium, headless; --no-sandbox because tests run as root in containers, where Chromium's sandbox cannot start. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--headless=new'] });
}
