// The kernel side of networks, behind one small interface (STYLE 13): src/network's plumbing,
// firewall and host probes. The engine takes a `NetworkKernel` so that a test can count or
// intercept calls; the default is the real thing.

import * as network from "../../network/index.js";

export interface NetworkKernel {
  readonly ensureBridge: typeof network.ensureBridge;
  readonly removeBridge: typeof network.removeBridge;
  readonly createSandbox: typeof network.createSandbox;
  readonly connectEndpoint: typeof network.connectEndpoint;
  readonly disconnectEndpoint: typeof network.disconnectEndpoint;
  readonly destroySandbox: typeof network.destroySandbox;
  readonly applyNetworkRules: typeof network.applyNetworkRules;
  readonly removeNetworkRules: typeof network.removeNetworkRules;
  readonly hostRoutedRanges: typeof network.hostRoutedRanges;
  readonly hostSockets: typeof network.hostSockets;
  readonly ipv6Available: typeof network.ipv6Available;
  readonly takeSysctlNotices: typeof network.takeSysctlNotices;
  readonly removeBaseChains: typeof network.removeBaseChains;
  readonly removeLinks: typeof network.removeLinks;
  readonly listLinks: typeof network.listLinks;
  readonly berthChains: typeof network.berthChains;
  readonly forgetUdpFlows: typeof network.forgetUdpFlows;
  readonly syncRedirects: typeof network.syncRedirects;
  readonly listRedirects: typeof network.listRedirects;
  readonly dropRedirects: typeof network.dropRedirects;
}

export const realNetworkKernel: NetworkKernel = {
  ensureBridge: network.ensureBridge,
  removeBridge: network.removeBridge,
  createSandbox: network.createSandbox,
  connectEndpoint: network.connectEndpoint,
  disconnectEndpoint: network.disconnectEndpoint,
  destroySandbox: network.destroySandbox,
  applyNetworkRules: network.applyNetworkRules,
  removeNetworkRules: network.removeNetworkRules,
  hostRoutedRanges: network.hostRoutedRanges,
  hostSockets: network.hostSockets,
  ipv6Available: network.ipv6Available,
  takeSysctlNotices: network.takeSysctlNotices,
  removeBaseChains: network.removeBaseChains,
  removeLinks: network.removeLinks,
  listLinks: network.listLinks,
  berthChains: network.berthChains,
  forgetUdpFlows: network.forgetUdpFlows,
  syncRedirects: network.syncRedirects,
  listRedirects: network.listRedirects,
  dropRedirects: network.dropRedirects,
};
