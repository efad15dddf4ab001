// Traffic helper for the network tests, run inside a test netns with `berth-netns exec NS --
// node probe.mjs …` (busybox has no UDP netcat, and its wget -T crashes). Prints one line.
//
//   probe.mjs http HOST PORT [TIMEOUT_MS]        GET / over TCP; prints the body, exit 1 on failure
//   probe.mjs udp HOST PORT MESSAGE [TIMEOUT_MS] sends MESSAGE, prints the first reply
//   probe.mjs udp-echo PORT [HOST]               replies "echo:<message>" to every datagram, forever
//
// Only ever pointed at addresses inside the test's own namespaces.
import { createSocket } from "node:dgram";
import { connect } from "node:net";

const [mode, ...args] = process.argv.slice(2);

function fail(message) {
  process.stdout.write(`fail: ${message}\n`);
  process.exit(1);
}

if (mode === "http") {
  const [host, port, timeout = "3000"] = args;
  const socket = connect({ host, port: Number(port) });
  const chunks = [];
  const timer = setTimeout(() => fail("timeout"), Number(timeout));
  socket.on("connect", () => socket.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
  socket.on("data", (chunk) => chunks.push(chunk));
  socket.on("error", (error) => fail(error.code ?? error.message));
  socket.on("end", () => {
    clearTimeout(timer);
    const text = Buffer.concat(chunks).toString("utf8");
    process.stdout.write(`${text.slice(text.indexOf("\r\n\r\n") + 4).trim()}\n`);
    process.exit(0);
  });
} else if (mode === "udp") {
  const [host, port, message, timeout = "2000"] = args;
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  const timer = setTimeout(() => fail("timeout"), Number(timeout));
  socket.on("message", (reply) => {
    clearTimeout(timer);
    process.stdout.write(`${reply.toString("utf8")}\n`);
    process.exit(0);
  });
  socket.on("error", (error) => fail(error.code ?? error.message));
  socket.send(message, Number(port), host);
} else if (mode === "udp-echo") {
  const [port, host = "0.0.0.0"] = args;
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  socket.on("message", (message, peer) => socket.send(`echo:${message.toString("utf8")}`, peer.port, peer.address));
  socket.bind(Number(port), host, () => process.stdout.write("ready\n"));
} else {
  fail(`unknown mode ${mode}`);
}
