// A measurement or section in its own child process, which prints its result as the last line of
// stdout (JSON). A child still running after timeoutMs is killed: a hang is a failure, not a slow
// result.
import { spawn } from 'node:child_process';

/**
 * Resolves { result, log } (log: the child's stderr), { skipped } when the child exits with
 * skipStatus (the reason is its last stderr line, without "SKIP: "), or { error }.
 */
export function runJsonChild(command, args, timeoutMs, skipStatus) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ error: `killed after ${timeoutMs / 1000} s without finishing` });
      if (skipStatus !== undefined && code === skipStatus) {
        return resolve({ skipped: (err.trim().split('\n').pop() ?? '').replace(/^SKIP: /, '') });
      }
      if (code !== 0) return resolve({ error: `exit ${code ?? signal}: ${err.trim().slice(-2000)}` });
      try {
        resolve({ result: JSON.parse(out.trim().split('\n').pop()), log: err });
      } catch {
        resolve({ error: `no JSON result in output: ${out.slice(-500)}` });
      }
    });
  });
}
