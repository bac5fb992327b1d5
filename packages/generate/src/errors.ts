/** A spec the target cannot express: names the file, the field and the target, and what to do instead. */
import { InputError } from '@msp/core';

export type TargetName = 'kubernetes' | 'gcp';

export class CannotExpress extends InputError {
  constructor(
    readonly target: TargetName,
    readonly file: string,
    readonly field: string,
    reason: string,
  ) {
    super(`${file}: ${field}: the ${target} target cannot express this: ${reason}`, {
      details: { target, file, field },
    });
  }
}
