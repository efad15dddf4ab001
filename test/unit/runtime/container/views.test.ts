// The Docker-shaped inspect and list views of a container record, as literal objects.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../../../src/runtime/container/resolve.js";
import { resolveMounts } from "../../../../src/runtime/container/mounts.js";
import { deriveState } from "../../../../src/runtime/container/status.js";
import { containerFiles, type ContainerRecord } from "../../../../src/runtime/container/store.js";
import { inspectView, summaryView } from "../../../../src/runtime/container/views.js";
import type { ContainerCreateSpec } from "../../../../src/runtime/container/spec.js";

const id = "feed".padEnd(64, "0");
const paths = { stateRoot: "/var/lib/berth", runRoot: "/run/berth" };
const spec: ContainerCreateSpec = {
  image: "web:1",
  name: "web",
  cmd: ["serve"],
  labels: { tier: "front" },
  mounts: [{ type: "volume", source: "data", target: "/data" }, { type: "bind", source: "/srv", target: "/srv", readOnly: true }],
  restartPolicy: { name: "always" },
  resources: { memory: 64 << 20 },
  stopTimeout: 5,
};
const config = resolveConfig({ id, spec, image: { Env: ["PATH=/bin"], Entrypoint: ["/entry"], Labels: { from: "image" } }, hostHostname: "h" });
const record: ContainerRecord = {
  version: 1,
  id,
  name: "web",
  created: "2026-01-01T00:00:00.000000000Z",
  image: { reference: "web:1", id: `sha256:${"a".repeat(64)}` },
  spec,
  config,
  mounts: resolveMounts({ mounts: spec.mounts ?? [], imageVolumes: [], volumeDataPath: (name) => `/var/lib/berth/volumes/${name}/_data`, anonymousVolumeName: () => "x" }),
  layerPaths: ["/layers/a", "/layers/b"],
};
const running = deriveState({
  persisted: undefined,
  shimAlive: true,
  status: { status: "running", pid: 99, exitCode: 0, oomKilled: false, startedAt: "2026-01-01T00:00:01Z", finishedAt: null, restartCount: 0, error: null },
  health: undefined,
  frozen: false,
  observedAt: "2026-01-01T00:00:05Z",
});

describe("inspectView", () => {
  it("has Docker's shape", () => {
    const files = containerFiles(paths, id);
    const view = inspectView(record, running, files);
    expect(view).toMatchObject({
      Id: id,
      Created: "2026-01-01T00:00:00.000000000Z",
      Path: "/entry",
      Args: ["serve"],
      State: { Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 99, ExitCode: 0, Error: "", StartedAt: "2026-01-01T00:00:01Z", FinishedAt: "0001-01-01T00:00:00Z" },
      Image: `sha256:${"a".repeat(64)}`,
      Name: "/web",
      RestartCount: 0,
      LogPath: `/var/lib/berth/containers/${id}/${id}-json.log`,
      GraphDriver: { Name: "overlay2", Data: { LowerDir: "/layers/b:/layers/a", UpperDir: `/var/lib/berth/containers/${id}/upper` } },
      Mounts: [
        { Type: "volume", Name: "data", Source: "/var/lib/berth/volumes/data/_data", Destination: "/data", Driver: "local", Mode: "", RW: true, Propagation: "" },
        { Type: "bind", Source: "/srv", Destination: "/srv", Mode: "ro", RW: false, Propagation: "rprivate" },
      ],
      Config: {
        Hostname: "feed00000000",
        Env: ["PATH=/bin"],
        Cmd: ["serve"],
        Entrypoint: ["/entry"],
        Image: "web:1",
        Labels: { from: "image", tier: "front" },
        WorkingDir: "",
        StopTimeout: 5,
        Tty: false,
        OpenStdin: false,
        Volumes: null,
      },
      HostConfig: {
        RestartPolicy: { Name: "always", MaximumRetryCount: 0 },
        LogConfig: { Type: "json-file", Config: {} },
        Memory: 67108864,
        MemorySwap: 134217728,
        NetworkMode: "default",
        PidsLimit: null,
        Mounts: [
          { Type: "volume", Source: "data", Target: "/data", ReadOnly: false },
          { Type: "bind", Source: "/srv", Target: "/srv", ReadOnly: true },
        ],
      },
      NetworkSettings: { Ports: {}, Networks: { none: { IPAddress: "" } } },
    });
    expect(view.State.Health).toBeUndefined();
    expect(view.Config["Healthcheck"]).toBeUndefined();
  });
});

describe("summaryView", () => {
  it("is the list item docker ps reads", () => {
    expect(summaryView(record, running, Date.parse("2026-01-01T00:01:00Z"))).toEqual({
      Id: id,
      Names: ["/web"],
      Image: "web:1",
      ImageID: `sha256:${"a".repeat(64)}`,
      Command: "/entry serve",
      Created: 1767225600,
      Ports: [],
      Labels: { from: "image", tier: "front" },
      State: "running",
      Status: "Up 59 seconds",
      HostConfig: { NetworkMode: "default" },
      NetworkSettings: { Networks: { none: expect.objectContaining({ NetworkID: "" }) } },
      Mounts: [
        { Type: "volume", Name: "data", Source: "/var/lib/berth/volumes/data/_data", Destination: "/data", Driver: "local", Mode: "", RW: true, Propagation: "" },
        { Type: "bind", Source: "/srv", Destination: "/srv", Mode: "ro", RW: false, Propagation: "rprivate" },
      ],
    });
  });
});
