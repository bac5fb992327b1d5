/**
 * Stored operation inputs are data from the state database, not trusted types: each kind of operation
 * declares a zod schema of its input, and a handler reads the input through it. A stored input that does
 * not match (written by another version, or edited by hand) fails the step with an error naming the field.
 */
import type { z } from 'zod';
import { InputError, type Operation } from '@msp/core';

export function inputOf<S extends z.ZodType>(
  op: Pick<Operation, 'id' | 'kind' | 'input'>,
  schema: S,
): z.output<S> {
  const parsed = schema.safeParse(op.input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`)
    .join('; ');
  throw new InputError(
    `Operation ${op.id} (${op.kind}) has a stored input this control plane cannot read: ${problems}. Start a new ${op.kind} instead.`,
  );
}
