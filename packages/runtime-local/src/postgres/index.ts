export {
  CLUSTER_ROLES,
  createPostgresCluster,
  MAX_CREDENTIAL_VALIDITY_SECONDS,
  MIN_CREDENTIAL_VALIDITY_SECONDS,
  type ClusterOptions,
  type ClusterRole,
  type PostgresCluster,
  type TemporaryCredentials,
} from './cluster.js';
export { POSTGRES_PACKAGES, postgresBinaries, postgresPackage, type PostgresBinaries } from './binaries.js';
export { POSTGRES_OS_USER, SERVICE_OS_USER, postgresOsUser, serviceOsUser, type OsUser } from './os-user.js';
