/**
 * Offline validation of generated manifests against the real schemas (tests only): core kinds with
 * `kubernetes-models`, prometheus-operator and Argo CD kinds with their `@kubernetes-models/*` packages,
 * CloudNativePG, Barman Cloud and Velero kinds with ajv against the `openAPIV3Schema` of the CRDs their
 * projects publish (read from `<repo>/../shared/crds`, or MSP_CRDS_DIR; never copied into the project).
 * Unknown fields in CRD kinds are errors, as with `kubectl apply --validate=strict`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { Namespace, Service, PersistentVolumeClaim, ConfigMap } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { PrometheusRule, Probe } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

/** Where the CRDs are: MSP_CRDS_DIR, else `<repo root>/../shared/crds`. */
export const CRDS_DIR = process.env.MSP_CRDS_DIR ?? resolve(repoRoot, '..', 'shared', 'crds');
export const crdsPresent = (): boolean => existsSync(CRDS_DIR);
export const CRDS_MISSING = `the CRDs folder ${CRDS_DIR} is absent (set MSP_CRDS_DIR to the folder of shared/crds)`;

type Model = new (data: Record<string, unknown>) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as Model,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'batch/v1/CronJob': CronJob as unknown as Model,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as Model,
  'monitoring.coreos.com/v1/Probe': Probe as unknown as Model,
  'argoproj.io/v1alpha1/Application': Application as unknown as Model,
};

type Schema = Record<string, unknown>;

/** Objects that list their properties are closed unless the schema keeps unknown fields. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const s: Schema = {};
  for (const [k, v] of Object.entries(schema as Schema))
    s[k] = k === 'enum' || k === 'default' || k === 'example' ? v : closeObjects(v);
  if (
    s.properties !== undefined &&
    s.additionalProperties === undefined &&
    s['x-kubernetes-preserve-unknown-fields'] !== true
  )
    s.additionalProperties = false;
  return s;
}

let crdValidators: Map<string, ValidateFunction> | undefined;
function crds(): Map<string, ValidateFunction> {
  if (crdValidators) return crdValidators;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  crdValidators = new Map();
  for (const file of readdirSync(CRDS_DIR).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(CRDS_DIR, file), 'utf8'))) {
      const crd = doc.toJS() as {
        kind?: string;
        spec?: {
          group: string;
          names: { kind: string };
          versions: { name: string; schema: { openAPIV3Schema: Schema } }[];
        };
      };
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        const schema = closeObjects(v.schema.openAPIV3Schema) as Schema;
        // metadata is checked by the API server itself, not by the CRD schema.
        (schema.properties as Schema).metadata = { type: 'object' };
        crdValidators.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  return crdValidators;
}

/** The kinds validated with the CRDs of ../shared/crds. */
export const CRD_KINDS = ['Cluster', 'ScheduledBackup', 'ObjectStore', 'Schedule', 'Backup', 'Restore'];

/** Problems of one manifest: empty when it validates. Throws for a kind nothing validates. */
export function validateManifest(manifest: Record<string, unknown>): string[] {
  const key = `${String(manifest.apiVersion)}/${String(manifest.kind)}`;
  const Model = MODELS[key];
  if (Model) {
    try {
      new Model(manifest).validate();
      return [];
    } catch (error) {
      return [`${key}: ${(error as Error).message}`];
    }
  }
  const validate = crds().get(key);
  if (!validate) throw new Error(`no schema to validate ${key} with`);
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map(
    (e) => `${key} ${e.instancePath || '/'}: ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

/** Every document of a generated YAML file, parsed. */
export function documentsOf(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}
