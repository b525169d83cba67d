#!/usr/bin/env node
// Checks the objects `helm template` rendered from the gpool chart, offline:
//   1. every object against the Kubernetes API schema of its apiVersion and kind
//      (kubernetes-models; the ServiceMonitor CRD with @kubernetes-models/prometheus-operator);
//      an object of any other kind is an error, so a new template needs a schema here; and no
//      field its type lacks (strict-fields.js: a misspelt or misindented key);
//   2. what the chart promises (docs/kubernetes.md), whatever the values: a worker's grace
//      period outlasts its drain, both daemons have gpool-health probes on their own port with
//      the credentials they need, Services and the PodDisruptionBudget select the right pods,
//      the HPA scales the workers, metrics flags only with a metrics port, and so on.
//
//   node validate.js --kinds "Deployment=2 Service=1" RENDERED.yaml
//
// Prints one line per object and per check; exits 1 naming every problem.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { unknownFields } = require('./strict-fields');

const problems = [];
function problem(message) {
  problems.push(message);
}

// apiVersion + kind -> the model module that validates it.
const MODELS = {
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler':
    'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'monitoring.coreos.com/v1/ServiceMonitor':
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
};

function validateSchema(object, where) {
  const key = `${object.apiVersion}/${object.kind}`;
  const module = MODELS[key];
  if (!module) {
    problem(`${where}: no schema for ${key} in validate.js (add one)`);
    return;
  }
  const Model = require(module)[object.kind];
  try {
    new Model(object).validate();
  } catch (error) {
    problem(`${where}: not a valid ${key}: ${error.message}`);
  }
  for (const unknown of unknownFields(object, module, object.kind)) {
    problem(`${where}: ${unknown}`);
  }
}

// RFC 1035 label: Service names, port names are checked by the API server, not by the schema.
function checkDnsLabel(name, what) {
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
    problem(`${what} '${name}' is not a DNS label (RFC 1035, at most 63 characters)`);
  }
}

function matches(selector, labels) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels && labels[k] === v);
}

function env(container, name) {
  return (container.env || []).find((e) => e.name === name);
}

function component(deployment) {
  return deployment.spec.template.metadata.labels['app.kubernetes.io/component'];
}

// The probe: `gpool health [--connect_timeout=..] [--credentials=DIR] 127.0.0.1:PORT`, direct
// or inside `sh -c "... | grep -q SERVING"` (a liveness probe that accepts NOT_SERVING).
function checkProbe(name, probe, container, pod, role) {
  if (!probe || !probe.exec || !probe.exec.command) {
    problem(`${name}: no exec probe`);
    return;
  }
  let words = probe.exec.command;
  if (words[0] === 'sh') {
    if (words[1] !== '-c' || words.length !== 3 || !/\| grep -q SERVING$/.test(words[2])) {
      problem(`${name}: unexpected shell probe ${JSON.stringify(words)}`);
      return;
    }
    words = words[2].replace(/\| grep -q SERVING$/, '').trim().split(/\s+/);
  }
  if (words[0] !== 'gpool' || words[1] !== 'health') {
    problem(`${name}: the probe does not run gpool health: ${JSON.stringify(words)}`);
    return;
  }
  const grpcPort = (container.ports || []).find((p) => p.name === 'grpc');
  const target = words[words.length - 1];
  if (!grpcPort || target !== `127.0.0.1:${grpcPort.containerPort}`) {
    problem(`${name}: probes ${target}, not the container's grpc port`);
  }
  const timeout = words.find((w) => w.startsWith('--connect_timeout='));
  if (!timeout || parseInt(timeout.split('=')[1], 10) >= (probe.timeoutSeconds || 1)) {
    problem(`${name}: --connect_timeout must be shorter than the probe's timeoutSeconds`);
  }
  const credentials = words.find((w) => w.startsWith('--credentials='));
  const tls = env(container, 'GPOOL_CREDENTIALS');
  if (tls && !credentials) problem(`${name}: TLS daemon probed without --credentials`);
  if (!tls && credentials) problem(`${name}: plain-text daemon probed with --credentials`);
  if (credentials) {
    // `gpool health` presents DIR/client.crt: the pod's own role certificate under that name.
    checkSecretMount(name, pod, container, credentials.split('=')[1], {
      'ca.crt': 'ca.crt', [`${role}.crt`]: 'client.crt', [`${role}.key`]: 'client.key',
    });
  }
}

// The directory `dir` of `container` is a Secret volume holding exactly `items` (key -> path).
function checkSecretMount(name, pod, container, dir, items) {
  const mount = (container.volumeMounts || []).find((m) => m.mountPath === dir);
  if (!mount) {
    problem(`${name}: nothing mounted at ${dir}`);
    return;
  }
  if (!mount.readOnly) problem(`${name}: ${dir} is mounted writable`);
  const volume = (pod.volumes || []).find((v) => v.name === mount.name);
  if (!volume || !volume.secret) {
    problem(`${name}: ${dir} is not a Secret volume`);
    return;
  }
  const mode = volume.secret.defaultMode;
  if (mode === undefined || (mode & 0o007) !== 0) {
    problem(`${name}: the keys in ${dir} are readable by every user (defaultMode ${mode})`);
  }
  const got = Object.fromEntries((volume.secret.items || []).map((i) => [i.key, i.path]));
  if (JSON.stringify(got) !== JSON.stringify(items)) {
    problem(`${name}: ${dir} holds ${JSON.stringify(got)}, expected ${JSON.stringify(items)}`);
  }
}

function checkDaemon(deployment, role) {
  const name = `Deployment ${deployment.metadata.name}`;
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === role);
  if (!container) {
    problem(`${name}: no container named ${role}`);
    return null;
  }
  if (!container.args || container.args[0] !== role) {
    problem(`${name}: the entrypoint's first argument must be the role ${role}`);
  }
  checkProbe(`${name} readinessProbe`, container.readinessProbe, container, pod, role);
  checkProbe(`${name} livenessProbe`, container.livenessProbe, container, pod, role);
  const credentials = env(container, 'GPOOL_CREDENTIALS');
  if (credentials) {
    checkSecretMount(name, pod, container, credentials.value, {
      'ca.crt': 'ca.crt', [`${role}.crt`]: `${role}.crt`, [`${role}.key`]: `${role}.key`,
    });
  } else if (!env(container, 'GPOOL_INSECURE')) {
    problem(`${name}: neither GPOOL_CREDENTIALS nor GPOOL_INSECURE: the daemon would refuse ` +
            'a non-loopback listen address');
  }
  for (const v of pod.volumes || []) {
    if (v.secret && (v.secret.items || []).some((i) => i.key === 'ca.key')) {
      problem(`${name}: mounts ca.key, which only signs certificates`);
    }
    if (v.secret && !v.secret.items) problem(`${name}: mounts a whole Secret (every role's key)`);
  }
  if (pod.securityContext?.runAsUser !== 10001 || !pod.securityContext?.runAsNonRoot) {
    problem(`${name}: must run as the image's user 10001, non-root`);
  }
  const listen = env(container, 'GPOOL_LISTEN');
  const grpcPort = (container.ports || []).find((p) => p.name === 'grpc');
  if (!listen || !grpcPort || listen.value !== `0.0.0.0:${grpcPort.containerPort}`) {
    problem(`${name}: GPOOL_LISTEN must be 0.0.0.0 on the grpc container port`);
  }
  const metricsArg = (container.args || []).find((a) => a.startsWith('--metrics_listen='));
  const metricsPort = (container.ports || []).find((p) => p.name === 'metrics');
  if (!!metricsArg !== !!metricsPort ||
      (metricsArg && metricsArg !== `--metrics_listen=0.0.0.0:${metricsPort.containerPort}`)) {
    problem(`${name}: --metrics_listen and the metrics container port must go together`);
  }
  return container;
}

function main(argv) {
  let kindsWanted = null;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--kinds') kindsWanted = argv[++i];
    else files.push(argv[i]);
  }
  if (files.length !== 1) {
    console.error('usage: node validate.js [--kinds "Kind=N ..."] RENDERED.yaml');
    process.exit(2);
  }
  const file = files[0];
  const objects = [];
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) problem(`${file}: YAML: ${doc.errors[0].message}`);
    const object = doc.toJS();
    if (object) objects.push(object);
  }

  // 1. The schemas.
  for (const object of objects) {
    const where = `${object.kind} ${object.metadata?.name}`;
    validateSchema(object, where);
    checkDnsLabel(object.metadata?.name || '', `${object.kind} name`);
  }
  console.log(`  schema: ${objects.length} objects (${objects.map((o) => o.kind).join(', ')})`);

  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  if (kindsWanted) {
    for (const entry of kindsWanted.trim().split(/\s+/)) {
      const [kind, count] = entry.split('=');
      if (byKind(kind).length !== Number(count)) {
        problem(`expected ${count} ${kind}, rendered ${byKind(kind).length}`);
      }
    }
    const listed = new Set(kindsWanted.trim().split(/\s+/).map((e) => e.split('=')[0]));
    for (const o of objects) {
      if (!listed.has(o.kind)) problem(`unexpected ${o.kind} ${o.metadata.name}`);
    }
  }

  // 2. The chart's promises.
  const deployments = byKind('Deployment');
  const coordinators = deployments.filter((d) => component(d) === 'coordinator');
  const workers = deployments.filter((d) => component(d) === 'worker');
  if (coordinators.length !== 1 || workers.length !== 1) {
    problem('expected one coordinator and one worker Deployment');
    return finish();
  }
  const coordinator = coordinators[0];
  const worker = workers[0];
  for (const d of deployments) {
    if (!matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)) {
      problem(`Deployment ${d.metadata.name}: its selector does not match its pods`);
    }
  }
  if (coordinator.spec.replicas !== 1 || coordinator.spec.strategy?.type !== 'Recreate') {
    problem('the coordinator must be one replica, replaced with Recreate (never two at once)');
  }
  checkDaemon(coordinator, 'coordinator');
  const w = checkDaemon(worker, 'worker');

  // The coordinator's Service, by the name the workers dial.
  const services = byKind('Service');
  const coordinatorAddress = w && env(w, 'GPOOL_COORDINATOR')?.value;
  const [serviceName, servicePort] = (coordinatorAddress || ':').split(':');
  const service = services.find((s) => s.metadata.name === serviceName);
  if (!service) {
    problem(`workers dial ${coordinatorAddress}, and no Service has that name`);
  } else {
    if (!matches(service.spec.selector, coordinator.spec.template.metadata.labels) ||
        matches(service.spec.selector, worker.spec.template.metadata.labels)) {
      problem(`Service ${serviceName} must select the coordinator's pod and no worker`);
    }
    const port = service.spec.ports.find((p) => String(p.port) === servicePort);
    if (!port || port.targetPort !== 'grpc') {
      problem(`Service ${serviceName} has no port ${servicePort} to the grpc container port`);
    }
  }
  // Every Service selects pods of this chart, and names ports they have.
  const templates = deployments.map((d) => d.spec.template);
  for (const s of services) {
    const selected = templates.filter((t) => matches(s.spec.selector, t.metadata.labels));
    if (selected.length === 0) problem(`Service ${s.metadata.name} selects no pod`);
    for (const p of s.spec.ports) {
      checkDnsLabel(p.name || '', `Service ${s.metadata.name} port name`);
      for (const t of selected) {
        const names = t.spec.containers.flatMap((c) => (c.ports || []).map((cp) => cp.name));
        if (typeof p.targetPort === 'string' && !names.includes(p.targetPort)) {
          problem(`Service ${s.metadata.name}: no container port ${p.targetPort}`);
        }
      }
    }
  }

  if (w) {
    if (env(w, 'GPOOL_ADVERTISE_HOST')?.valueFrom?.fieldRef?.fieldPath !== 'status.podIP') {
      problem('workers must advertise their pod IP (GPOOL_ADVERTISE_HOST from status.podIP)');
    }
    // The kubelet's SIGKILL must not cut the drain short.
    const drain = (w.args || []).find((a) => /^--drain_timeout=\d+s$/.test(a));
    const grace = worker.spec.template.spec.terminationGracePeriodSeconds;
    if (!drain) {
      problem('the worker has no --drain_timeout=Ns');
    } else if (!(grace > parseInt(drain.split('=')[1], 10))) {
      problem(`worker terminationGracePeriodSeconds ${grace} is not longer than ${drain}`);
    } else {
      console.log(`  drain: ${drain}, terminationGracePeriodSeconds ${grace}`);
    }
  }

  const pdbs = byKind('PodDisruptionBudget');
  for (const pdb of pdbs) {
    const selector = pdb.spec.selector.matchLabels;
    if (!matches(selector, worker.spec.template.metadata.labels) ||
        matches(selector, coordinator.spec.template.metadata.labels)) {
      problem(`PodDisruptionBudget ${pdb.metadata.name} must select the workers only`);
    }
  }

  const hpas = byKind('HorizontalPodAutoscaler');
  for (const hpa of hpas) {
    const target = hpa.spec.scaleTargetRef;
    if (target.kind !== 'Deployment' || target.name !== worker.metadata.name) {
      problem(`HorizontalPodAutoscaler ${hpa.metadata.name} must scale the worker Deployment`);
    }
    if (worker.spec.replicas !== undefined) {
      problem('with an HPA the worker Deployment must leave replicas to it');
    }
    for (const m of hpa.spec.metrics || []) {
      if (m.type === 'Resource' && m.resource.name === 'cpu' &&
          !w?.resources?.requests?.cpu) {
        problem('a CPU-utilisation HPA needs the workers to request CPU');
      }
      if (m.type === 'Pods' && !(w?.ports || []).some((p) => p.name === 'metrics')) {
        problem('an HPA on a Pods metric needs the workers to serve metrics');
      }
    }
  }

  for (const monitor of byKind('ServiceMonitor')) {
    const selected = services.filter((s) => matches(monitor.spec.selector.matchLabels,
                                                    s.metadata.labels));
    for (const endpoint of monitor.spec.endpoints) {
      const scraped = selected.filter((s) => s.spec.ports.some((p) => p.name === endpoint.port));
      const scrapedPods = new Set(scraped.flatMap((s) => deployments
        .filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels))
        .map(component)));
      if (!scrapedPods.has('coordinator') || !scrapedPods.has('worker')) {
        problem(`ServiceMonitor ${monitor.metadata.name} must scrape the coordinator and the ` +
                `workers on port ${endpoint.port}`);
      }
    }
  }
  return finish();
}

function finish() {
  if (problems.length > 0) {
    for (const p of problems) console.log(`  FAILED: ${p}`);
    process.exit(1);
  }
  console.log('  chart checks: ok');
  return 0;
}

main(process.argv.slice(2));
