/**
 * @msp/generate: the platform repo compiled to the engines users already run: Kubernetes manifests
 * (kustomize, CloudNativePG, Barman Cloud, Velero, prometheus-operator, Argo CD) and Google Cloud Terraform
 * JSON. Deterministic: the same repo gives byte-identical files.
 */
export { CannotExpress, type TargetName } from './errors.js';
export { sortKeys, toJson, toYaml, yamlOf, yamlString } from './output.js';
export { modelsOf, type DeploymentModel } from './model.js';
export {
  generate,
  selectModels,
  dirOf,
  releaseOf,
  TARGETS,
  type GeneratedFile,
  type GenerateOptions,
  type GenerateResult,
} from './generate.js';
export {
  manifestsOf,
  kubernetesFiles,
  kustomization,
  releaseIn,
  KUSTOMIZATION,
  APPLICATION,
  type KubernetesGenerateOptions,
} from './kubernetes/index.js';
export { recoveryCluster, POSTGRES_MAJOR, CNPG_POSTGRES_MAJORS } from './kubernetes/database.js';
export { policiesOf } from './kubernetes/monitoring.js';
export type { Manifest } from './kubernetes/workload.js';
export { GCP_STACKS, gcpFiles, type GcpOptions } from './gcp/index.js';
export { writeGenerated, checkGenerated, readGenerated, type CheckResult } from './files.js';
export { promoteKubernetes, type PromotionResult } from './promote.js';
