// Offline schema checks of deploy/ (node --test deploy_schema.test.mjs):
//  - deploy/aws/imgbatch.yaml against the CloudFormation resource specification that the
//    AWS CDK itself generates from (@aws-cdk/aws-service-spec, built from CloudFormation's
//    registry schemas): resource types exist, every property name exists at every depth,
//    required properties are present, literal values have the right shape and allowed
//    value, and every GetAtt names a real attribute. This is the part of a template linter
//    that catches real mistakes; cfn-lint itself is a PyPI package (not reachable here) and
//    the npm "cfn-lint" bundles a 2019 specification that knows neither StopTimeout,
//    RuntimePlatform nor metric math in scaling policies (docs/deploy.md).
//  - deploy/kubernetes/*.yaml against the Kubernetes API schemas (kubernetes-models) and
//    KEDA's CRDs (@kubernetes-models/keda), file by file and, when kubectl is installed,
//    as `kubectl kustomize` renders them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const template = process.env.IMGBATCH_CFN_TEMPLATE ?? join(repo, "deploy", "aws", "imgbatch.yaml");
const k8sDir = join(repo, "deploy", "kubernetes");
const require = createRequire(import.meta.url);

// ---- CloudFormation YAML with short-form tags --------------------------------------------
const FUNCTIONS = {
  Ref: "Ref", Condition: "Condition", GetAtt: "Fn::GetAtt", Sub: "Fn::Sub", Join: "Fn::Join",
  Select: "Fn::Select", Split: "Fn::Split", If: "Fn::If", Equals: "Fn::Equals", Not: "Fn::Not",
  And: "Fn::And", Or: "Fn::Or", FindInMap: "Fn::FindInMap", GetAZs: "Fn::GetAZs",
  Base64: "Fn::Base64", Cidr: "Fn::Cidr", ImportValue: "Fn::ImportValue",
  ToJsonString: "Fn::ToJsonString", Length: "Fn::Length",
};
const cfnTags = Object.entries(FUNCTIONS).flatMap(([short, key]) => [
  {
    tag: `!${short}`,
    resolve: (str) => ({ [key]: key === "Fn::GetAtt" ? str.split(/\.(.*)/s).slice(0, 2) : str }),
  },
  { tag: `!${short}`, collection: "seq", resolve: (seq) => ({ [key]: seq.toJSON() }) },
  { tag: `!${short}`, collection: "map", resolve: (map) => ({ [key]: map.toJSON() }) },
]);

function loadTemplate(path) {
  const doc = YAML.parseDocument(readFileSync(path, "utf8"), { customTags: cfnTags });
  assert.deepEqual(doc.errors, [], `YAML errors in ${path}`);
  assert.deepEqual(doc.warnings, [], `YAML warnings (unknown tags?) in ${path}`);
  return doc.toJS({ maxAliasCount: -1 });
}

// ---- the CloudFormation specification ----------------------------------------------------
const specPath = require.resolve("@aws-cdk/aws-service-spec/db.json.gz");
const db = JSON.parse(gunzipSync(readFileSync(specPath)));
const resourceTypes = new Map(db.schema.resource.entities.map((r) => [r.cloudFormationType, r]));
const typeDefinitions = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));

const RESOURCE_KEYS = new Set(["Type", "Properties", "DependsOn", "Condition", "DeletionPolicy",
  "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy"]);

const isIntrinsic = (v) => v !== null && typeof v === "object" && !Array.isArray(v) &&
  Object.keys(v).length === 1 && /^(Ref|Condition|Fn::)/.test(Object.keys(v)[0]);

// Checks value against a spec type; appends "path: problem" strings to errors.
function checkValue(value, type, path, errors) {
  if (isIntrinsic(value)) {
    // The branches of Fn::If are values of the same type; other functions are resolved
    // only at deploy time and cannot be checked here.
    if ("Fn::If" in value) {
      for (const branch of value["Fn::If"].slice(1)) {
        if (!(isIntrinsic(branch) && branch.Ref === "AWS::NoValue")) checkValue(branch, type, path, errors);
      }
    }
    return;
  }
  switch (type.type) {
    case "string":
    case "date-time":
      if (typeof value === "object") errors.push(`${path}: expected a string`);
      else if (type.allowedValues && !type.allowedValues.includes(String(value))) {
        errors.push(`${path}: ${value} is not one of ${type.allowedValues.join(", ")}`);
      }
      return;
    case "number":
    case "integer":
      if (typeof value === "object" || Number.isNaN(Number(value))) errors.push(`${path}: expected a number`);
      return;
    case "boolean":
      if (!(typeof value === "boolean" || value === "true" || value === "false")) errors.push(`${path}: expected a boolean`);
      return;
    case "json":
    case "null":
      return;
    case "array":
      if (!Array.isArray(value)) { errors.push(`${path}: expected a list`); return; }
      value.forEach((v, i) => checkValue(v, type.element, `${path}[${i}]`, errors));
      return;
    case "map":
      if (typeof value !== "object" || Array.isArray(value)) { errors.push(`${path}: expected a map`); return; }
      for (const [k, v] of Object.entries(value)) checkValue(v, type.element, `${path}.${k}`, errors);
      return;
    case "tag":
      if (typeof value !== "object" || !("Key" in value)) errors.push(`${path}: expected a Key/Value tag`);
      return;
    case "union": {
      const fits = type.types.some((t) => { const e = []; checkValue(value, t, path, e); return e.length === 0; });
      if (!fits) errors.push(`${path}: matches none of its allowed shapes`);
      return;
    }
    case "ref": {
      const def = typeDefinitions.get(type.reference.$ref);
      assert.ok(def, `specification has no type ${type.reference.$ref}`);
      if (typeof value !== "object" || Array.isArray(value)) { errors.push(`${path}: expected a ${def.name} object`); return; }
      checkProperties(value, def.properties, path, errors);
      return;
    }
    default:
      errors.push(`${path}: specification type ${type.type} not understood by this check`);
  }
}

function checkProperties(value, properties, path, errors) {
  for (const [name, v] of Object.entries(value)) {
    if (!(name in properties)) { errors.push(`${path}.${name}: unknown property`); continue; }
    checkValue(v, properties[name].type, `${path}.${name}`, errors);
  }
  for (const [name, p] of Object.entries(properties)) {
    if (p.required && !(name in value)) errors.push(`${path}.${name}: required property missing`);
  }
}

function getAttTargets(node, out = []) {
  if (Array.isArray(node)) node.forEach((n) => getAttTargets(n, out));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "Fn::GetAtt") out.push(v);
      else if (k === "Fn::Sub") {
        const text = Array.isArray(v) ? v[0] : v;
        for (const m of text.matchAll(/\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}/g)) out.push([m[1], m[2]]);
        if (Array.isArray(v)) getAttTargets(v[1], out);
      } else getAttTargets(v, out);
    }
  }
  return out;
}

function lintTemplate(t) {
  const errors = [];
  for (const [name, resource] of Object.entries(t.Resources)) {
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_KEYS.has(key)) errors.push(`${name}.${key}: not a resource attribute`);
    }
    const spec = resourceTypes.get(resource.Type);
    if (!spec) { errors.push(`${name}: unknown resource type ${resource.Type}`); continue; }
    checkProperties(resource.Properties ?? {}, spec.properties, name, errors);
  }
  for (const [resourceName, attribute] of getAttTargets([t.Resources, t.Outputs])) {
    const resource = t.Resources[resourceName];
    if (!resource) { errors.push(`GetAtt ${resourceName}.${attribute}: no such resource`); continue; }
    const spec = resourceTypes.get(resource.Type);
    if (spec && !(attribute in (spec.attributes ?? {}))) {
      errors.push(`GetAtt ${resourceName}.${attribute}: ${resource.Type} has no such attribute`);
    }
  }
  return errors;
}

test("the CloudFormation specification is current enough for the template", () => {
  // Guards the checker itself: these exist only in specifications from 2021 on.
  const scaling = resourceTypes.get("AWS::ApplicationAutoScaling::ScalingPolicy");
  assert.ok(scaling, "ScalingPolicy missing from the specification");
  const container = [...typeDefinitions.values()].find((d) => d.name === "ContainerDefinition" && "StopTimeout" in d.properties);
  assert.ok(container, "ContainerDefinition.StopTimeout missing from the specification");
  assert.ok(resourceTypes.get("AWS::ECS::TaskDefinition").properties.RuntimePlatform);
});

test("deploy/aws/imgbatch.yaml passes the schema check", () => {
  assert.deepEqual(lintTemplate(loadTemplate(template)), []);
});

test("the schema check catches the mistakes it is for", () => {
  const t = loadTemplate(template);
  t.Resources.Queue.Properties.VisibilityTimeOut = 30;  // wrong case
  t.Resources.TaskDefinition.Properties.ContainerDefinitions[0].StopTimeout = "soon";
  delete t.Resources.ScalableTarget.Properties.ScalableDimension;
  t.Resources.Bogus = { Type: "AWS::S3::Buckets" };
  t.Outputs.Broken = { Value: { "Fn::GetAtt": ["Queue", "Url"] } };
  const errors = lintTemplate(t);
  for (const expected of [
    "Queue.VisibilityTimeOut: unknown property",
    "TaskDefinition.ContainerDefinitions[0].StopTimeout: expected a number",
    "ScalableTarget.ScalableDimension: required property missing",
    "Bogus: unknown resource type AWS::S3::Buckets",
    "GetAtt Queue.Url: AWS::SQS::Queue has no such attribute",
  ]) {
    assert.ok(errors.includes(expected), `missing "${expected}" in ${JSON.stringify(errors)}`);
  }
});

// ---- Kubernetes --------------------------------------------------------------------------
// apiVersion/kind -> [module, class]; the module's .d.ts exports interface I<class>.
const MODELS = {
  "v1/Namespace": ["kubernetes-models/v1/Namespace", "Namespace"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "ServiceAccount"],
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "ConfigMap"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "Deployment"],
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject", "ScaledObject"],
  "keda.sh/v1alpha1/TriggerAuthentication":
    ["@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication", "TriggerAuthentication"],
};

// KEDA 2.13 added podIdentity.identityOwner/roleArn (provider "aws"); the newest
// @kubernetes-models/keda that runs on Node 20 carries KEDA 2.10's CRDs, which do not
// list them. Strip exactly those fields before validating and nothing else.
function forKeda210Schema(obj) {
  if (obj.kind !== "TriggerAuthentication" || !obj.spec?.podIdentity) return obj;
  const copy = structuredClone(obj);
  delete copy.spec.podIdentity.identityOwner;
  delete copy.spec.podIdentity.roleArn;
  return copy;
}

function modelFor(obj, where) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  assert.ok(MODELS[key], `${where}: no schema known for ${key}`);
  return MODELS[key];
}

// The JSON schemas of kubernetes-models check types, formats and required fields but
// allow unknown fields (a misspelt "terminationGracePeriod" would pass). The API server
// rejects unknown fields, so the same models' TypeScript types check that too: every
// manifest becomes an object literal typed with its interface, and tsc's excess-property
// check names any field the API does not have. Nothing is written to disk.
function typeCheck(objects) {
  const ts = require("typescript");
  const file = join(here, "__manifests_typecheck__.ts");
  const lines = [];
  objects.forEach(({ obj, where }, i) => {
    const [module, cls] = modelFor(obj, where);
    lines.push(`import type { I${cls} as T${i} } from "${module}";`);
    lines.push(`// ${where}`);
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(forKeda210Schema(obj), null, 1)};`);
  });
  const source = lines.join("\n");
  const options = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined
      ? source.slice(0, d.start).split("\n").filter((l) => l.startsWith("// ")).pop() : "";
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

function validateManifests(objects) {
  for (const { obj, where } of objects) {
    const [module, cls] = modelFor(obj, where);
    const Model = require(module)[cls];
    new Model(forKeda210Schema(obj)).validate();  // throws with the schema errors
  }
  assert.deepEqual(typeCheck(objects), []);
}

const manifestFiles = readdirSync(k8sDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");

test("every Kubernetes manifest matches its schema", () => {
  assert.ok(manifestFiles.length >= 4, `manifests found: ${manifestFiles}`);
  const objects = [];
  for (const file of manifestFiles) {
    const docs = YAML.parseAllDocuments(readFileSync(join(k8sDir, file), "utf8"));
    for (const doc of docs) {
      assert.deepEqual(doc.errors, [], file);
      objects.push({ obj: doc.toJS(), where: file });
    }
  }
  validateManifests(objects);
});

test("the schema check refuses broken manifests", () => {
  const read = (f) => YAML.parse(readFileSync(join(k8sDir, f), "utf8"));
  const wrongType = read("deployment.yaml");
  wrongType.spec.template.spec.terminationGracePeriodSeconds = "45s";
  assert.throws(() => validateManifests([{ obj: wrongType, where: "deployment.yaml" }]));
  const noTarget = read("scaledobject.yaml");
  delete noTarget.spec.scaleTargetRef;
  assert.throws(() => validateManifests([{ obj: noTarget, where: "scaledobject.yaml" }]));
  const misspelt = read("deployment.yaml");
  misspelt.spec.template.spec.terminationGracePeriod = 45;
  const unknownField = read("scaledobject.yaml");
  unknownField.spec.minReplicas = 0;
  const errors = typeCheck([{ obj: misspelt, where: "deployment.yaml" }, { obj: unknownField, where: "scaledobject.yaml" }]);
  assert.equal(errors.length, 2, errors.join("\n"));
  assert.match(errors[0], /deployment\.yaml: .*terminationGracePeriod/);
  assert.match(errors[1], /scaledobject\.yaml: .*minReplicas/);
});

function kubectl() {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test("the kustomize rendering matches the schemas", { skip: !kubectl() && "kubectl not installed" }, () => {
  const rendered = execFileSync("kubectl", ["kustomize", k8sDir], { encoding: "utf8" });
  const docs = YAML.parseAllDocuments(rendered).map((d) => d.toJS());
  const kinds = docs.map((d) => d.kind).sort();
  assert.deepEqual(kinds, ["ConfigMap", "Deployment", "Namespace", "ScaledObject", "ServiceAccount",
    "TriggerAuthentication"]);
  validateManifests(docs.map((obj) => ({ obj, where: `kustomize ${obj.kind}` })));
});
