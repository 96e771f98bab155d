import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { parse, parseAllDocuments } from 'yaml';
import { containerArgs, readDockerfile } from '../helpers/dockerfile.js';
import { ROOT, runPrefork, tempDir } from '../helpers/prefork.js';

/**
 * examples/kubernetes and examples/compose.yaml, checked without a cluster or Docker: every
 * manifest against the Kubernetes API schemas (kubernetes-models, generated from the official
 * OpenAPI spec), and against the code: the argv the image and the manifest produce together passes
 * `prefork --check-config`, and the probes, grace periods and ports agree with what it resolves.
 */
const K8S = join(ROOT, 'examples/kubernetes');
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

function manifests(): Array<{ file: string; doc: Manifest }> {
  return readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => {
        assert.deepEqual(d.errors, [], `${file} is YAML`);
        return { file, doc: d.toJS() as Manifest };
      }),
    );
}

const byKind = (kind: string): Manifest => {
  const found = manifests().filter((m) => m.doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind} in examples/kubernetes`);
  return found[0]!.doc;
};

/** Validates as kubectl's server would, by kind; throws with the schema's message. */
function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  assert.ok(Model, `a model for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

/** What `prefork --check-config` resolves for a container: the image's ENTRYPOINT, then its args. */
async function checkConfig(
  t: TestContext,
  args: readonly string[] | undefined,
  env: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'server.js'), 'module.exports = (req, res) => res.end();\n');
  const image = readDockerfile();
  const argv = [...containerArgs(image, args), '--check-config'];
  const run = await runPrefork(t, argv, { cwd: dir, env: { ...image.env, ...env } });
  assert.equal(run.code, 0, `prefork ${argv.join(' ')}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

const portOf = (address: unknown): number => Number(/:(\d+)$/.exec(String(address))?.[1]);

describe('examples/kubernetes', () => {
  test('holds a Deployment, a Service, a PodDisruptionBudget and an HPA, each valid for the Kubernetes API', () => {
    const kinds = manifests().map((m) => m.doc.kind);
    assert.deepEqual(kinds.sort(), ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
    for (const { file, doc } of manifests()) assert.doesNotThrow(() => validate(doc), file);
  });

  test('the schema check is live: a manifest with a wrong type or a missing field is refused', () => {
    const deployment = structuredClone(byKind('Deployment'));
    const pod = (deployment.spec.template as { spec: { containers: Array<Record<string, unknown>> } }).spec;
    pod.containers[0]!.ports = [{ name: 'http', containerPort: '8000' }];
    assert.throws(() => validate(deployment), /containerPort must be integer/);
    const pdb = structuredClone(byKind('PodDisruptionBudget'));
    delete (pdb as Partial<Manifest>).metadata;
    pdb.spec.maxUnavailable = [1];
    assert.throws(() => validate(pdb), /maxUnavailable/);
  });

  const pod = (): { spec: Record<string, unknown>; metadata: Record<string, Record<string, string>> } =>
    byKind('Deployment').spec.template as never;
  const container = (): IContainer => (pod().spec.containers as IContainer[])[0]!;
  const env = (): Record<string, string> =>
    Object.fromEntries((container().env ?? []).map((e) => [e.name, e.value ?? '']));

  test("the image's ENTRYPOINT and the pod's args together pass prefork --check-config", async (t) => {
    const config = await checkConfig(t, container().args, env());
    assert.equal(config.app, 'server.js');
    assert.equal(config.gracefulTimeout, 20, "the pod's --graceful-timeout overrides the image's 8");
  });

  test("the probes ask prefork's admin listener: /readyz (startup, readiness) and /livez (liveness)", async (t) => {
    const config = await checkConfig(t, container().args, env());
    const ports = new Map((container().ports ?? []).map((p) => [p.name, p.containerPort]));
    const probe = (p: IProbe | undefined): { path: string; port: number } => {
      const get = p?.httpGet;
      assert.ok(get, 'an httpGet probe');
      const port = typeof get.port === 'number' ? get.port : ports.get(get.port);
      return { path: String(get.path), port: Number(port) };
    };
    const admin = portOf(config.metricsBind);
    assert.ok(admin > 0, `--metrics-bind resolves to a TCP port (${String(config.metricsBind)})`);
    assert.equal(String(config.metricsBind).split(':')[0], '0.0.0.0', 'the kubelet reaches it on the pod IP');
    assert.deepEqual(probe(container().startupProbe), { path: '/readyz', port: admin });
    assert.deepEqual(probe(container().readinessProbe), { path: '/readyz', port: admin });
    assert.deepEqual(probe(container().livenessProbe), { path: '/livez', port: admin });
    const scrape = pod().metadata.annotations ?? {};
    assert.equal(scrape['prometheus.io/scrape'], 'true');
    assert.equal(Number(scrape['prometheus.io/port']), admin);
    assert.equal(scrape['prometheus.io/path'], '/metrics');
    assert.deepEqual((config.bind as string[]).map(portOf), [ports.get('http')], 'the app listens on the http port');
  });

  test('terminationGracePeriodSeconds covers --shutdown-delay + --graceful-timeout with 2 s or more to spare', async (t) => {
    const config = await checkConfig(t, container().args, env());
    const grace = Number(pod().spec.terminationGracePeriodSeconds);
    const needed = Number(config.shutdownDelay) + Number(config.gracefulTimeout);
    assert.ok(Number(config.shutdownDelay) > 0, 'a shutdown delay, so endpoints update before the drain');
    assert.ok(grace >= needed + 2, `grace period ${grace} s for ${needed} s of delay and drain`);
  });

  test('a CPU limit and no fixed worker count: the workers follow the cgroup CPU limit', () => {
    const c = container();
    assert.ok(c.resources?.limits?.cpu !== undefined, 'resources.limits.cpu');
    const argv = c.args ?? [];
    assert.ok(!argv.some((a) => a === '-w' || a.startsWith('--workers')), 'no --workers in args');
    assert.equal(env().WEB_CONCURRENCY, undefined);
    assert.equal(readDockerfile().env.WEB_CONCURRENCY, undefined);
  });

  test('the Service, PodDisruptionBudget and HPA select and name what the Deployment defines', () => {
    const deployment = byKind('Deployment');
    const labels = pod().metadata.labels ?? {};
    const matches = (selector: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const service = byKind('Service');
    assert.ok(matches(service.spec.selector as Record<string, string>), 'Service selector');
    const names = (container().ports ?? []).map((p) => p.name);
    for (const p of service.spec.ports as Array<{ targetPort: string }>) assert.ok(names.includes(p.targetPort));
    assert.ok(!(service.spec.ports as Array<{ targetPort: string }>).some((p) => p.targetPort === 'admin'));
    const pdb = byKind('PodDisruptionBudget');
    assert.ok(matches((pdb.spec.selector as { matchLabels: Record<string, string> }).matchLabels), 'PDB selector');
    const hpa = byKind('HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    const metrics = readFileSync(join(ROOT, 'src/master/metrics-text.ts'), 'utf8');
    for (const m of hpa.spec.metrics as Array<{ type: string; pods?: { metric: { name: string } } }>) {
      if (m.type === 'Pods')
        assert.ok(metrics.includes(`'${m.pods!.metric.name}'`), `${m.pods!.metric.name} is exported`);
    }
  });
});

describe('examples/compose.yaml', () => {
  const compose = (): { services: Record<string, Record<string, unknown>> } =>
    parse(readFileSync(join(ROOT, 'examples/compose.yaml'), 'utf8')) as never;

  test('init, and a stop_grace_period that covers --shutdown-delay + --graceful-timeout', async (t) => {
    const app = compose().services.app!;
    assert.equal(app.init, true, 'tini as PID 1 reaps orphans');
    assert.equal(app.build, '.', 'built from examples/Dockerfile in the app directory');
    const config = await checkConfig(t, app.command as string[]);
    const grace = /^(\d+)s$/.exec(String(app.stop_grace_period));
    assert.ok(grace, `stop_grace_period in seconds: ${String(app.stop_grace_period)}`);
    const needed = Number(config.shutdownDelay) + Number(config.gracefulTimeout);
    assert.ok(Number(grace[1]) >= needed + 2, `stop_grace_period ${grace[1]} s for ${needed} s`);
    const published = (app.ports as string[]).map((p) => Number(p.split(':').at(-1)));
    assert.deepEqual(published, (config.bind as string[]).map(portOf), 'publishes the port prefork binds');
  });
});

describe('examples/Dockerfile alone', () => {
  test('its ENTRYPOINT and CMD pass prefork --check-config, the admin listener on', async (t) => {
    const config = await checkConfig(t, undefined);
    assert.equal(config.gracefulTimeout, 8, 'under docker stop’s 10 s');
    assert.equal(portOf(config.metricsBind), 9100);
    assert.match(readDockerfile().text, /^EXPOSE 8000 9100$/m);
  });

  test('an option the ENTRYPOINT gives, given again after it, takes the last value (was exit 2)', async (t) => {
    const config = await checkConfig(t, ['--graceful-timeout', '20', '--metrics-bind', '127.0.0.1:9200', 'server.js']);
    assert.equal(config.gracefulTimeout, 20);
    assert.equal(config.metricsBind, '127.0.0.1:9200');
  });
});
