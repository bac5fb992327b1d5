/** The name of a restore's clone (`msp restore … --into <name>`): checked alike by the CLI and the API. */
export const CLONE_NAME_MAX = 41;
const CLONE_NAME = /^[a-z][a-z0-9-]*$/;

/** What is wrong with `name` as a clone's name, or undefined. Length first: a long name is not bad characters. */
export function cloneNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a clone name must not be empty';
  if (name.length > CLONE_NAME_MAX) {
    const shown = name.length > 60 ? `${name.slice(0, 40)}…` : name;
    return `"${shown}" is ${name.length} characters long; a clone name is at most ${CLONE_NAME_MAX}`;
  }
  if (!CLONE_NAME.test(name)) {
    return `"${name}" is not a deployment name: start with a lowercase letter and use only a-z, 0-9 and -`;
  }
  return undefined;
}
