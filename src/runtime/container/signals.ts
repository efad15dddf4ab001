// Signal names and numbers as Docker accepts them (`--stop-signal`, `kill -s`): `SIGTERM`,
// `TERM`, `term` or `15`, and the real-time range `SIGRTMIN+n`.

import { BerthError } from "../../errors.js";

const signalNumbers: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10,
  SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CLD: 17, CONT: 18,
  STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27,
  WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31, RTMIN: 34, RTMAX: 64,
};

export const SignalErrorCode = "E_CONTAINER_SIGNAL";

/** The signal's number, or a BerthError naming the bad value. */
export function parseSignal(value: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    if (number >= 1 && number <= 64) return number;
  } else {
    const name = text.toUpperCase().replace(/^SIG/, "");
    const realtime = /^RTMIN\+(\d+)$/.exec(name) ?? /^RTMAX-(\d+)$/.exec(name);
    if (realtime !== null) {
      const offset = Number(realtime[1]);
      const number = name.startsWith("RTMIN") ? 34 + offset : 64 - offset;
      if (number >= 34 && number <= 64) return number;
    }
    const number = signalNumbers[name];
    if (number !== undefined) return number;
  }
  throw new BerthError(SignalErrorCode, `Invalid signal: ${value}`);
}

/** `SIGTERM` for 15; numbers without a name stay numbers. */
export function signalName(number: number): string {
  for (const [name, value] of Object.entries(signalNumbers)) {
    if (value === number && name !== "IOT" && name !== "CLD" && name !== "POLL") return `SIG${name}`;
  }
  return String(number);
}
