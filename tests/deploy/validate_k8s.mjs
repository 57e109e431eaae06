// Validates Kubernetes objects against the Kubernetes OpenAPI schemas, as
// compiled to validators by the kubernetes-models packages (pinned in
// deploy/local/install-deps.sh), and the Prometheus Operator CRDs against
// the schemas of @kubernetes-models/prometheus-operator.
//
// Usage: node validate_k8s.mjs VALIDATOR_DIR OBJECTS.json (VALIDATOR_DIR holds
// node_modules/kubernetes-models)
// OBJECTS.json: [{"source": "...", "object": {...}}, ...]. Exit 1 on any
// invalid object or any kind without a schema (nothing passes unchecked).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [validatorDir, objectsFile] = process.argv.slice(2);
if (!validatorDir || !objectsFile) {
  console.error('usage: node validate_k8s.mjs VALIDATOR_DIR OBJECTS.json');
  process.exit(2);
}
const modules = path.join(path.resolve(validatorDir), 'node_modules');

// The API groups served by a CRD package instead of kubernetes-models.
const CRD_PACKAGES = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function modulePath(apiVersion, kind) {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const pkg = CRD_PACKAGES[group] ?? 'kubernetes-models';
  // The packages' own layout: <package>/<group>/<version>/<Kind>.js
  return path.join(modules, pkg, apiVersion, `${kind}.js`);
}

let failures = 0;
let checked = 0;
for (const { source, object } of JSON.parse(readFileSync(objectsFile, 'utf8'))) {
  const { apiVersion, kind } = object ?? {};
  const name = `${source}: ${kind}/${object?.metadata?.name}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    console.error(`validate_k8s: FAIL: ${name}: no apiVersion/kind`);
    failures++;
    continue;
  }
  let Model;
  try {
    Model = (await import(pathToFileURL(modulePath(apiVersion, kind)).href))[kind];
    if (typeof Model !== 'function') throw new Error(`no export ${kind}`);
  } catch (e) {
    console.error(`validate_k8s: FAIL: ${name}: no schema for ${apiVersion} ${kind} (${e.code ?? e.message})`);
    failures++;
    continue;
  }
  try {
    new Model(object).validate();
    checked++;
  } catch (e) {
    console.error(`validate_k8s: FAIL: ${name}: ${e.message}`);
    failures++;
  }
}
if (failures > 0) process.exit(1);
console.log(`validate_k8s: ok: ${checked} objects valid`);
