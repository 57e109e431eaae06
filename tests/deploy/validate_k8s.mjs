// Validates Kubernetes objects against the Kubernetes OpenAPI schemas, as
// compiled to validators by the kubernetes-models packages (pinned in
// deploy/local/install-deps.sh), and the Prometheus Operator CRDs against
// the schemas of @kubernetes-models/prometheus-operator. The Kubernetes
// schemas allow fields they do not define, so a misspelt field would pass;
// built-in kinds are therefore also walked with the field lists of
// @kubernetes/client-node's generated models (like kubeconform -strict),
// and a field that is not in them fails.
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

// Built-in kinds: every field must be one the API defines.
const clientModels = await import(pathToFileURL(
  path.join(modules, '@kubernetes/client-node/dist/gen/models/all.js')).href);

function strictTypeName(apiVersion, kind) {
  const version = apiVersion.split('/').pop();
  return version[0].toUpperCase() + version.slice(1) + kind;  // apps/v1 -> V1Deployment
}

function unknownFields(value, type, where, errors) {
  if (value === null || value === undefined) return;
  let m = type.match(/^Array<(.+)>$/);
  if (m) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], `${where}/${i}`, errors));
    return;
  }
  m = type.match(/^\{ \[key: string\]: (.+); \}$/);
  if (m) {
    if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${where}/${k}`, errors);
    }
    return;
  }
  const model = clientModels[type];
  // Primitives, IntOrString and "any" have no fields; wrong value types are
  // the schema validator's to report.
  if (typeof model?.getAttributeTypeMap !== 'function') return;
  if (typeof value !== 'object' || Array.isArray(value)) return;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) errors.push(`${where}/${k}: unknown field (not in ${type})`);
    else unknownFields(v, fields.get(k), `${where}/${k}`, errors);
  }
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
  } catch (e) {
    console.error(`validate_k8s: FAIL: ${name}: ${e.message}`);
    failures++;
    continue;
  }
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  if (!CRD_PACKAGES[group]) {
    const type = strictTypeName(apiVersion, kind);
    if (typeof clientModels[type]?.getAttributeTypeMap !== 'function') {
      console.error(`validate_k8s: FAIL: ${name}: no field list for ${type}`);
      failures++;
      continue;
    }
    const errors = [];
    unknownFields(object, type, '', errors);
    if (errors.length > 0) {
      console.error(`validate_k8s: FAIL: ${name}: ${errors.join(', ')}`);
      failures++;
      continue;
    }
  }
  checked++;
}
if (failures > 0) process.exit(1);
console.log(`validate_k8s: ok: ${checked} objects valid`);
