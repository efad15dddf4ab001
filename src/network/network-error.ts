// Errors of src/network: stable codes, and for kernel failures the object they are about
// (`bridge br-3f2a9c1d2e4b`, `veth vb3f2a9c`, `iptables chain BERTH-DN-3f2a9c1d2e4b`).

import { BerthError } from "../errors.js";

export const NetworkErrorCode = {
  invalid: "E_NET_INVALID",
  exhausted: "E_NET_POOL_EXHAUSTED",
  portInUse: "E_NET_PORT_IN_USE",
  kernel: "E_NET_KERNEL",
  notFound: "E_NET_NOT_FOUND",
  exists: "E_NET_EXISTS",
  toolMissing: "E_NET_TOOL_MISSING",
} as const;
export type NetworkErrorCode = (typeof NetworkErrorCode)[keyof typeof NetworkErrorCode];

export interface NetworkErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** The kernel object the error is about, e.g. `veth vb3f2a9c`. */
  readonly object?: string;
}

export class NetworkError extends BerthError {
  readonly object: string | undefined;

  constructor(code: NetworkErrorCode, message: string, options: NetworkErrorOptions = {}) {
    super(code, message, options);
    this.name = "NetworkError";
    this.object = options.object;
  }
}

export function invalid(message: string): NetworkError {
  return new NetworkError(NetworkErrorCode.invalid, message);
}

/** `<object>: <detail>` with the object attached, for failures the kernel or a tool reported. */
export function kernelError(object: string, detail: string, options: { hint?: string; cause?: unknown } = {}): NetworkError {
  return new NetworkError(NetworkErrorCode.kernel, `${object}: ${detail}`, { ...options, object });
}
