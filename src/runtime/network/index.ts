// The engine's networks: Docker's network API (create, list, inspect, remove, prune, connect,
// disconnect) and what the container engine needs to put a container on its networks.

import { BerthError } from "../../errors.js";
import { untilTime } from "../prune-filters.js";
import type { RuntimePaths } from "../state.js";
import { realNetworkKernel, type NetworkKernel } from "./kernel.js";
import { endpointsOfContainer, findNetworkRecord, listEndpoints, listNetworkRecords, NetworkStoreErrorCode, type EndpointRecord, type NetworkRecord } from "./records.js";
import { reclaimStale, type ResolvedAttachment } from "./sandbox.js";
import {
  createNetwork,
  destroyAllNetworks,
  ensurePredefined,
  inspectView,
  removeNetwork,
  type NetworkContext,
  type NetworkCreateRequest,
  type NetworkInspect,
} from "./service.js";

export { NetworkStoreErrorCode, sandboxPath, listEndpoints, listNetworkRecords, parseOwnerAlias, registeredRootsOnHost, rootTag } from "./records.js";
export type { EndpointRecord, NetworkRecord } from "./records.js";
export type { NetworkCreateRequest, NetworkInspect, NetworkContext } from "./service.js";
export type { ResolvedAttachment, PortRequest, SandboxRequest } from "./sandbox.js";
export { setUpSandbox, tearDownSandbox, connectRunning, disconnectRunning, portClaimed, syncRedirects } from "./sandbox.js";
export { defaultHostsLines, upstreamServers, searchDomains, resolverAddress } from "./name-files.js";
export { realNetworkKernel, type NetworkKernel } from "./kernel.js";

export interface NetworkService {
  readonly context: NetworkContext;
  create(request: NetworkCreateRequest): Promise<{ readonly Id: string; readonly Warning: string }>;
  list(options?: { readonly filters?: Readonly<Record<string, readonly string[]>> }): Promise<NetworkInspect[]>;
  inspect(reference: string): Promise<NetworkInspect>;
  remove(reference: string): Promise<NetworkRecord>;
  /** Remove user-defined networks no running container uses; returns their names. */
  prune(options?: { readonly filters?: Readonly<Record<string, readonly string[]>> }): Promise<string[]>;
  /** A network by id, name or id prefix; the predefined ones are made on first use. */
  find(reference: string): Promise<NetworkRecord>;
  /** A container's endpoints (eth0 first), with their networks. */
  endpointsOf(containerId: string): { readonly network: NetworkRecord; readonly endpoint: EndpointRecord }[];
  /** Every network's kernel objects and records of this root (tests, `system prune`). */
  destroyAll(): Promise<void>;
  /** Drop the endpoints of containers that no longer run (`system prune`). */
  reclaimStale(): Promise<void>;
  /** An attachment for `network connect`/`create`: the network resolved and the options checked. */
  attachment(reference: string, options?: Omit<ResolvedAttachment, "networkId" | "networkName">): Promise<ResolvedAttachment>;
}

export interface NetworkServiceOptions {
  readonly paths: RuntimePaths;
  readonly isRunning: (containerId: string) => boolean;
  readonly kernel?: NetworkKernel;
  readonly clock?: () => Date;
}

/** Docker's `dangling`: true = user networks no container uses; false = the predefined ones and those in use. */
function danglingMatches(record: NetworkRecord, inUse: boolean, value: string): boolean {
  if (value !== "true" && value !== "false" && value !== "1" && value !== "0") {
    throw new BerthError(NetworkStoreErrorCode.invalid, `invalid filter 'dangling=${value}'`);
  }
  const dangling = record.predefined !== true && !inUse;
  return (value === "true" || value === "1") === dangling;
}

function matches(record: NetworkRecord, filters: Readonly<Record<string, readonly string[]>>, inUse: () => boolean, allowed: readonly string[] = []): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const ok = values.some((value) => {
      switch (key) {
        case "dangling":
          return danglingMatches(record, inUse(), value);
        case "until":
          if (!allowed.includes("until")) throw new BerthError(NetworkStoreErrorCode.invalid, `invalid filter 'until'`);
          return Date.parse(record.created) <= untilTime(value, Date.now(), NetworkStoreErrorCode.invalid);
        case "name":
          return record.name.includes(value);
        case "id":
          return record.id.startsWith(value);
        case "driver":
          return record.driver === value;
        case "type":
          return value === "builtin" ? record.predefined === true : value === "custom" ? record.predefined !== true : false;
        case "scope":
          return value === "local";
        case "label": {
          const [labelKey = "", labelValue] = value.split("=", 2);
          return labelKey in record.labels && (labelValue === undefined || record.labels[labelKey] === labelValue);
        }
        case "label!": {
          const [labelKey = "", labelValue] = value.split("=", 2);
          return !(labelKey in record.labels && (labelValue === undefined || record.labels[labelKey] === labelValue));
        }
        default:
          throw new BerthError(NetworkStoreErrorCode.invalid, `invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function createNetworkService(options: NetworkServiceOptions): NetworkService {
  const context: NetworkContext = {
    paths: options.paths,
    kernel: options.kernel ?? realNetworkKernel,
    clock: options.clock ?? (() => new Date()),
    isRunning: options.isRunning,
  };
  const find = async (reference: string): Promise<NetworkRecord> => {
    let records = listNetworkRecords(context.paths);
    let record = findNetworkRecord(records, reference);
    if (record === undefined && ["bridge", "host", "none", "default"].includes(reference)) {
      records = await ensurePredefined(context);
      record = findNetworkRecord(records, reference === "default" ? "bridge" : reference);
    }
    if (record === undefined) throw new BerthError(NetworkStoreErrorCode.notFound, `network ${reference} not found`);
    return record;
  };
  return {
    context,
    create: async (request) => ({ Id: (await createNetwork(context, request)).id, Warning: "" }),
    list: async (request = {}) => {
      const records = await ensurePredefined(context);
      const inUse = (record: NetworkRecord) => (): boolean => listEndpoints(context.paths, record.id).length > 0;
      return records.filter((record) => matches(record, request.filters ?? {}, inUse(record))).map((record) => inspectView(context, record));
    },
    inspect: async (reference) => inspectView(context, await find(reference)),
    remove: (reference) => removeNetwork(context, reference, () => reclaimStale(context)),
    prune: async (request = {}) => {
      await reclaimStale(context);
      const removed: string[] = [];
      for (const record of listNetworkRecords(context.paths)) {
        if (listEndpoints(context.paths, record.id).length > 0) continue;
        if (record.predefined === true || !matches(record, request.filters ?? {}, () => false, ["until"])) continue;
        try {
          await removeNetwork(context, record.id, () => Promise.resolve());
          removed.push(record.name);
        } catch (error) {
          if (!(error instanceof BerthError && error.code === NetworkStoreErrorCode.inUse)) throw error;
        }
      }
      return removed;
    },
    find,
    endpointsOf: (containerId) => {
      const records = listNetworkRecords(context.paths);
      return endpointsOfContainer(context.paths, containerId, records).map((endpoint) => ({ network: records.find((record) => record.id === endpoint.networkId) as NetworkRecord, endpoint }));
    },
    destroyAll: () => destroyAllNetworks(context),
    reclaimStale: () => reclaimStale(context),
    attachment: async (reference, attachmentOptions = { aliases: [] }) => {
      const network = await find(reference);
      if (network.driver === "host" || network.driver === "null") {
        throw new BerthError(NetworkStoreErrorCode.invalid, `container cannot be connected to network ${network.name} (driver ${network.driver}); use --network ${network.name} alone`);
      }
      if (network.predefined && (attachmentOptions.aliases.length > 0 || attachmentOptions.ipv4Address !== undefined || attachmentOptions.ipv6Address !== undefined)) {
        throw new BerthError(NetworkStoreErrorCode.invalid, "user specified IP address and network-scoped aliases are supported only for containers in user defined networks");
      }
      return { networkId: network.id, networkName: network.name, ...attachmentOptions };
    },
  };
}
