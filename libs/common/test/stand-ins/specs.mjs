// The hypervisors' API descriptions (../shared/specs, found beside the repository or above
// it), loaded with a YAML parser and compiled with Ajv into strict validators: every object
// refuses properties the spec does not name, so a misspelt or invented field fails.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder holding the two spec files: $COCOON_SPECS_DIR, else shared/specs in a parent folder. */
export function specsDir() {
  if (process.env.COCOON_SPECS_DIR) return process.env.COCOON_SPECS_DIR;
  for (let dir = here; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'specs');
    if (existsSync(join(candidate, 'cloud-hypervisor.openapi.yaml'))) return candidate;
  }
  throw new Error(`shared/specs (cloud-hypervisor.openapi.yaml, firecracker.swagger.yaml) not found above ${resolve(here)}; set COCOON_SPECS_DIR`);
}

/** Makes every object schema closed (unless it says what extra properties may be). */
function strictify(node) {
  if (Array.isArray(node)) return node.map(strictify);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'format' || k === 'example' || k === 'nullable' || k === 'discriminator') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strictify(s)])) : strictify(v);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** A validator for one spec: `validate(method, path, body)` returns a list of problems (empty = valid). */
export function loadSpec(kind) {
  const file = kind === 'cloud-hypervisor' ? 'cloud-hypervisor.openapi.yaml' : 'firecracker.swagger.yaml';
  const doc = parse(readFileSync(join(specsDir(), file), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const id = `spec-${kind}`;
  ajv.addSchema({ $id: id, ...strictify(kind === 'cloud-hypervisor' ? { components: doc.components } : { definitions: doc.definitions }) });
  const base = kind === 'cloud-hypervisor' ? '/api/v1' : '';
  const templates = Object.keys(doc.paths).map((p) => ({ p, re: new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`) }));
  const compiled = new Map();
  const schemaFor = (ref) => {
    if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: `${id}${ref}` }));
    return compiled.get(ref);
  };
  /** The spec's schema $ref for a component name (`DiskConfig`, `Drive`). */
  const ref = (name) => (kind === 'cloud-hypervisor' ? `#/components/schemas/${name}` : `#/definitions/${name}`);
  function validate(method, path, body) {
    const local = path.startsWith(base) ? path.slice(base.length) : null;
    const match = local === null ? undefined : templates.find((t) => t.re.test(local));
    if (!match) return [`${method} ${path}: no such path in the ${kind} API`];
    const op = doc.paths[match.p][method.toLowerCase()];
    if (!op) return [`${method} ${path}: the ${kind} API has no ${method} on ${match.p}`];
    let schema;
    let required = false;
    if (kind === 'cloud-hypervisor') {
      schema = op.requestBody?.content?.['application/json']?.schema;
      required = op.requestBody?.required === true;
    } else {
      const param = (op.parameters ?? []).find((p) => p.in === 'body');
      schema = param?.schema;
      required = param?.required === true;
    }
    if (!schema) return body === undefined || body === null ? [] : [`${method} ${path}: takes no body, got ${JSON.stringify(body)}`];
    if (body === undefined || body === null) return required ? [`${method} ${path}: body required`] : [];
    const v = schemaFor(schema.$ref);
    return v(body) ? [] : v.errors.map((e) => `${method} ${path}: ${e.instancePath || '(body)'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
  }
  /** Validates `value` against a named component. */
  function validateComponent(name, value) {
    const v = schemaFor(ref(name));
    return v(value) ? [] : v.errors.map((e) => `${name}: ${e.instancePath || '(root)'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
  }
  return { validate, validateComponent, doc };
}
