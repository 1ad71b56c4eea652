/**
 * docker-compose.yml and every Kubernetes manifest under deploy/k8s validate against their
 * published schemas, with validators installed from PyPI on first use (scripts/deploy/schema-validators.ts):
 * check-jsonschema's vendored Compose Specification schema, and kubernetes-validate's strict
 * schemas of the oldest and newest Kubernetes release we target. Each validator is also shown a
 * broken copy, so a validator that accepts anything cannot pass for a clean result.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ensureValidators, KUBERNETES_VERSIONS, type Validators, validateCompose, validateKubernetes } from '../../scripts/deploy/schema-validators.ts';

const root = new URL('../../', import.meta.url).pathname;
const composeFile = join(root, 'docker-compose.yml');
const k8sDir = join(root, 'deploy/k8s');
const manifests = readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(k8sDir, f));

let validators: Validators;
const scratch = mkdtempSync(join(tmpdir(), 'streamrec-deploy-schemas-'));

before(() => {
  validators = ensureValidators();
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('compose: docker-compose.yml is valid against the Compose Specification schema', () => {
  const r = validateCompose(validators, composeFile);
  assert.ok(r.ok, r.output);
});

test('compose: the schema check rejects a depends_on condition the specification does not have', () => {
  const broken = join(scratch, 'docker-compose.yml');
  const text = readFileSync(composeFile, 'utf8');
  assert.ok(text.includes('condition: service_healthy'));
  writeFileSync(broken, text.replace('condition: service_healthy', 'condition: service_ready'));
  const r = validateCompose(validators, broken);
  assert.equal(r.ok, false, r.output);
  assert.match(r.output, /service_ready/);
});

/** `kind/name` of every document in the manifests, as kubernetes-validate names them. */
const resources = manifests.flatMap((f) =>
  parseAllDocuments(readFileSync(f, 'utf8'))
    .map((d) => d.toJS())
    .filter((d) => d !== null)
    .map((d) => `${String(d.kind).toLowerCase()}/${d.metadata.name}`),
);

for (const version of KUBERNETES_VERSIONS) {
  test(`k8s: every manifest is valid against the strict schemas of Kubernetes ${version}`, () => {
    assert.ok(resources.length >= 8, `${resources.length} resources`);
    const r = validateKubernetes(validators, manifests, version);
    assert.ok(r.ok, r.output);
    // A kind without a schema is only a warning to kubernetes-validate: require a pass for each.
    assert.doesNotMatch(r.output, /\bWARN\b|\bERROR\b/, r.output);
    const minor = version.split('.').slice(0, 2).join('.');
    for (const res of resources) assert.ok(r.output.includes(`passed for resource ${res} against version ${minor}`), `${res} validated:\n${r.output}`);
  });
}

test('k8s: the strict schemas reject a misspelt field and a wrongly typed one', () => {
  const text = readFileSync(join(k8sDir, 'serving.yaml'), 'utf8');
  assert.ok(text.includes('readinessProbe:') && /replicas: \d+/.test(text));
  const typo = join(scratch, 'typo.yaml');
  writeFileSync(typo, text.replace('readinessProbe:', 'readinesProbe:'));
  const r1 = validateKubernetes(validators, [typo], KUBERNETES_VERSIONS[0]);
  assert.equal(r1.ok, false, r1.output);
  assert.match(r1.output, /readinesProbe/);
  const typed = join(scratch, 'typed.yaml');
  writeFileSync(typed, text.replace(/replicas: (\d+)/, 'replicas: "$1"'));
  const r2 = validateKubernetes(validators, [typed], KUBERNETES_VERSIONS[0]);
  assert.equal(r2.ok, false, r2.output);
  assert.match(r2.output, /spec\.replicas/);
});
