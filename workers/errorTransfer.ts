import { transferHandlers } from 'comlink';
import { HepexError, type HepexErrorCode } from '../src/core/model/errors';

interface SerializedThrow {
  isError?: boolean;
  value?: { message?: string; name?: string; stack?: string; code?: HepexErrorCode };
}
type ThrowHandler = {
  canHandle(value: unknown): boolean;
  serialize(value: { value: unknown }): [SerializedThrow, Transferable[]];
  deserialize(value: SerializedThrow): never;
};

let installed = false;

/**
 * comlink clones a thrown Error as { message, name, stack } and drops our `code`. This wraps
 * its 'throw' handler on both sides of the worker boundary so a HepexError thrown in a worker
 * arrives as a HepexError with the same code. Idempotent.
 */
export function installHepexErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const base = transferHandlers.get('throw') as unknown as ThrowHandler;
  const handler: ThrowHandler = {
    canHandle: (value) => base.canHandle(value),
    serialize(thrown) {
      const [wire, transferables] = base.serialize(thrown);
      const error = thrown.value;
      if (wire.isError && wire.value && error instanceof HepexError) wire.value.code = error.code;
      return [wire, transferables];
    },
    deserialize(wire) {
      if (wire.isError && wire.value?.code) {
        throw new HepexError(wire.value.code, wire.value.message ?? 'The HE worker failed.');
      }
      return base.deserialize(wire);
    },
  };
  transferHandlers.set('throw', handler as unknown as Parameters<typeof transferHandlers.set>[1]);
}
