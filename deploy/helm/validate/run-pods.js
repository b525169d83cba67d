#!/usr/bin/env node
// Runs the coordinator and worker pods the chart rendered as plain processes on loopback, as
// the kubelet would start them, and checks them with the probes the chart wrote:
//   - each container's args and env through the image's entrypoint (docker/entrypoint.sh)
//     and this build's binaries; the Secret volumes as directories holding exactly the items
//     the pod mounts, with the pod's file mode; status.podIP is 127.0.0.1, and the
//     listen address 0.0.0.0 becomes 127.0.0.1 (nothing listens beyond loopback);
//   - the readiness and liveness probes, run as the kubelet runs exec probes: the coordinator
//     is ready, then the worker registers and is ready; a job through the coordinator gives the
//     exact sum; with the coordinator stopped the worker stays alive (liveness), and registers
//     with a new coordinator; SIGTERM stops each daemon with exit 0 within its
//     terminationGracePeriodSeconds;
//   - with metrics on, each daemon serves /metrics (the ServiceMonitor's path) on the port the
//     chart gives it (a free port here: both pods would share one), and the workers serve the
//     metric the HorizontalPodAutoscaler scales on.
// A flag the daemons do not know, a probe that cannot pass, a credential file missing from a
// mount: each fails here, where no cluster is needed.
//
//   node run-pods.js RENDERED.yaml BIN_DIR ENTRYPOINT SECRET_DIR WORK_DIR
// SECRET_DIR holds the Secret's keys as files (gpool init DIR), client.crt/.key included.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const YAML = require('yaml');

const [rendered, binDir, entrypoint, secretDir, workDir] = process.argv.slice(2);
if (!workDir) {
  console.error('usage: node run-pods.js RENDERED.yaml BIN_DIR ENTRYPOINT SECRET_DIR WORK_DIR');
  process.exit(2);
}
const started = Date.now();
function log(message) {
  console.log(`  [pods +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}
function fail(message) {
  console.log(`  FAILED: ${message}`);
  for (const pod of Object.values(pods)) {
    if (pod.process && pod.process.exitCode === null) pod.process.kill('SIGKILL');
    if (fs.existsSync(pod.logFile)) {
      console.log(`  --- ${pod.component} log:\n${fs.readFileSync(pod.logFile, 'utf8')}`);
    }
  }
  process.exit(1);
}

const objects = YAML.parseAllDocuments(fs.readFileSync(rendered, 'utf8'))
  .map((d) => d.toJS()).filter(Boolean);
const pods = {};

// A pod's file system: its mounts under WORK_DIR/<component>.
function preparePod(deployment) {
  const component = deployment.spec.template.metadata.labels['app.kubernetes.io/component'];
  const spec = deployment.spec.template.spec;
  const container = spec.containers[0];
  const root = path.join(workDir, component);
  const mounts = [];
  for (const mount of container.volumeMounts || []) {
    const volume = spec.volumes.find((v) => v.name === mount.name);
    const dir = path.join(root, mount.mountPath);
    fs.mkdirSync(dir, { recursive: true });
    if (volume.secret) {
      for (const item of volume.secret.items) {
        const target = path.join(dir, item.path);
        fs.copyFileSync(path.join(secretDir, item.key), target);
        fs.chmodSync(target, volume.secret.defaultMode);
      }
    }
    mounts.push([mount.mountPath, dir]);
  }
  // A path in the pod -> the same path here, in one pass (WORK_DIR may itself be under /tmp).
  const escape = (p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(^|[\\s=])(${mounts.map(([from]) => escape(from))
    .sort((a, b) => b.length - a.length).join('|')})(?=/|\\s|$)`, 'g');
  const mapped = Object.fromEntries(mounts);
  const inPod = (text) => (mounts.length === 0 ? text
    : text.replace(pattern, (_, before, from) => before + mapped[from]));
  const env = { PATH: `${binDir}:${process.env.PATH}`, HOME: root };
  for (const e of container.env || []) {
    if (e.valueFrom) {
      if (e.valueFrom.fieldRef?.fieldPath !== 'status.podIP') fail(`unknown valueFrom ${e.name}`);
      env[e.name] = '127.0.0.1';
    } else {
      env[e.name] = inPod(e.value);
    }
  }
  if (env.GPOOL_LISTEN) env.GPOOL_LISTEN = env.GPOOL_LISTEN.replace(/^0\.0\.0\.0:/, '127.0.0.1:');
  if (env.GPOOL_COORDINATOR) env.GPOOL_COORDINATOR = env.GPOOL_COORDINATOR.replace(/^[^:]+:/, '127.0.0.1:');
  // The image's /tmp is the pod's emptyDir: the port file goes there.
  env.GPOOL_RUN_DIR = inPod('/tmp');
  const probe = (p) => ({ ...p, command: p.exec.command.map(inPod) });
  const pod = {
    component, container, env, root,
    grace: spec.terminationGracePeriodSeconds,
    readiness: probe(container.readinessProbe),
    liveness: probe(container.livenessProbe),
    args: container.args.map(inPod),
    logFile: path.join(workDir, `${component}.log`),
  };
  pods[component] = pod;
  return pod;
}

function start(pod) {
  const out = fs.openSync(pod.logFile, 'a');
  pod.exit = null;
  pod.stopping = false;
  pod.process = spawn('sh', [entrypoint, ...pod.args], { env: pod.env, stdio: ['ignore', out, out] });
  pod.exited = new Promise((resolve) => {
    pod.process.on('exit', (code, signal) => { pod.exit = { code, signal }; resolve(); });
  });
  log(`${pod.component}: gpool-entrypoint ${pod.args.join(' ')}`);
}

// One run of a command with a timeout, without blocking the event loop (the daemons' exits
// are events).
function run(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutSeconds * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output: output.trim() });
    });
  });
}

// One run of an exec probe, as the kubelet does it: the container's env, its timeout.
function runProbe(pod, probe) {
  return run(probe.command[0], probe.command.slice(1),
             { env: pod.env, timeoutSeconds: probe.timeoutSeconds });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, deadlineSeconds, condition) {
  const deadline = Date.now() + deadlineSeconds * 1000;
  for (;;) {
    for (const pod of Object.values(pods)) {
      if (pod.exit && !pod.stopping) fail(`${pod.component} exited: ${JSON.stringify(pod.exit)}`);
    }
    const last = await condition();
    if (last.ok) return last;
    if (Date.now() > deadline) fail(`${what} within ${deadlineSeconds}s (last: ${last.output})`);
    await sleep(200);
  }
}

// SIGTERM, then the exit within `seconds` (the pod's grace period), which must be 0.
async function stop(pod, seconds) {
  const stopping = Date.now();
  pod.stopping = true;
  pod.process.kill('SIGTERM');
  let timer;
  const inTime = await Promise.race([
    pod.exited.then(() => true),
    new Promise((resolve) => { timer = setTimeout(() => resolve(false), seconds * 1000); }),
  ]);
  clearTimeout(timer);
  if (!inTime) fail(`${pod.component} did not exit within its grace period of ${seconds}s`);
  if (pod.exit.code !== 0) {
    fail(`${pod.component} exited with ${JSON.stringify(pod.exit)} after SIGTERM, not 0`);
  }
  log(`${pod.component}: SIGTERM to exit 0 in ${((Date.now() - stopping) / 1000).toFixed(1)}s ` +
      `(terminationGracePeriodSeconds ${seconds})`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The pod's metrics listen address, 0.0.0.0:PORT in the pod, on a free loopback port here.
async function placeMetrics(pod) {
  const at = pod.args.findIndex((a) => /^--metrics_listen=0\.0\.0\.0:\d+$/.test(a));
  if (at < 0) return;
  pod.metricsPort = await freePort();
  pod.args[at] = `--metrics_listen=127.0.0.1:${pod.metricsPort}`;
}

function get(url) {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (d) => { body += d; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ status: 0, body: error.message }));
  });
}

// /metrics of each daemon that serves it, holding `names` (per component).
async function checkMetrics(names) {
  const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
  const metricsPath = monitor ? monitor.spec.endpoints[0].path : '/metrics';
  for (const pod of Object.values(pods)) {
    if (!pod.metricsPort) continue;
    const url = `http://127.0.0.1:${pod.metricsPort}${metricsPath}`;
    const response = await get(url);
    if (response.status !== 200) fail(`${pod.component} ${url}: ${response.status} ${response.body}`);
    for (const name of names[pod.component]) {
      if (!new RegExp(`^${name}[ {]`, 'm').test(response.body)) {
        fail(`${pod.component} ${url} has no ${name}`);
      }
    }
    log(`${pod.component}: ${url} serves ${names[pod.component].join(', ')}`);
  }
}

function clientArgs(coordinator) {
  const args = ['--coordinator', coordinator.env.GPOOL_LISTEN];
  if (coordinator.env.GPOOL_CREDENTIALS) args.push('--credentials', secretDir);
  return args;
}

// A job, as a user runs it through `kubectl port-forward`.
async function runJob(coordinator) {
  const job = await run(path.join(binDir, 'gpool'),
                        [...clientArgs(coordinator), 'map', 'square', '1..5000', '--progress=never'],
                        { env: { PATH: process.env.PATH }, timeoutSeconds: 60 });
  if (!job.ok || !job.output.includes('41679167500')) {
    fail(`gpool map square 1..5000: ${job.output}`);
  }
  log('gpool map square 1..5000 through the coordinator: 41679167500');
}

async function main() {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const byComponent = (c) => deployments.find((d) =>
    d.spec.template.metadata.labels['app.kubernetes.io/component'] === c);
  const coordinator = preparePod(byComponent('coordinator'));
  const worker = preparePod(byComponent('worker'));

  await placeMetrics(coordinator);
  await placeMetrics(worker);
  start(coordinator);
  await waitFor('the coordinator is ready', 30, () => runProbe(coordinator, coordinator.readiness));
  await waitFor('the coordinator is alive', 10, () => runProbe(coordinator, coordinator.liveness));
  log('coordinator: readiness and liveness probes pass');

  start(worker);
  await waitFor('the worker is ready (registered)', 30, () => runProbe(worker, worker.readiness));
  await waitFor('the worker is alive', 10, () => runProbe(worker, worker.liveness));
  log('worker: readiness and liveness probes pass');

  await runJob(coordinator);

  // The metric the HPA scales on must be one the workers serve.
  const hpaMetrics = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')
    .flatMap((h) => h.spec.metrics).filter((m) => m.type === 'Pods').map((m) => m.pods.metric.name);
  await checkMetrics({ coordinator: ['gpool_slots_busy'],
                       worker: [...new Set(['gpool_executor_busy_slots', ...hpaMetrics])] });

  // The coordinator replaced (Recreate: the old one gone before the new one starts). Without
  // it the worker must stay alive, not be restarted; with the new one it registers again.
  await stop(coordinator, coordinator.grace);
  const alive = await runProbe(worker, worker.liveness);
  if (!alive.ok) fail(`the worker's liveness probe fails without a coordinator: ${alive.output}`);
  log('coordinator stopped: the worker is still alive');
  start(coordinator);
  await waitFor('the new coordinator is ready', 30, () => runProbe(coordinator, coordinator.readiness));
  await waitFor('the worker registers with the new coordinator', 30, async () => {
    const status = await run(path.join(binDir, 'gpool'), [...clientArgs(coordinator), 'info'],
                             { env: { PATH: process.env.PATH }, timeoutSeconds: 10 });
    return { ok: status.ok && status.output.includes('cores available equals 1'),
             output: status.output };
  });
  await waitFor('the worker is ready again', 30, () => runProbe(worker, worker.readiness));
  log('new coordinator: the worker registered again and is ready');
  await runJob(coordinator);

  // A scale-down: SIGTERM, drain, deregistration, exit 0 within the grace period.
  await stop(worker, worker.grace);
  await stop(coordinator, coordinator.grace);
  log('ok');
}

main().catch((error) => fail(error.stack));
