import { loadKoffi, type Koffi } from './load-koffi';

/** A native library opened through koffi, with a binder that names the library in its errors. */
export interface OpenedLibrary {
  readonly koffi: Koffi;
  readonly lib: ReturnType<Koffi['load']>;
  /** Binds `name`; a missing symbol raises the driver's unavailable error naming the library and the function. */
  func<F>(name: string, result: string, args: readonly unknown[]): F;
}

/**
 * Opens `library` through koffi. Both FFI drivers load their library this
 * way, so a missing library or symbol always reads the same:
 * `<library> cannot be loaded (<hint>): ...`, `<library> lacks <name>: ...`.
 */
export function openLibrary(library: string, hint: string, unavailable: (message: string, cause: unknown) => Error): OpenedLibrary {
  const koffi = loadKoffi();
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(library);
  } catch (err) {
    throw unavailable(`${library} cannot be loaded (${hint}): ${(err as Error).message}`, err);
  }
  return {
    koffi,
    lib,
    func<F>(name: string, result: string, args: readonly unknown[]): F {
      try {
        return lib.func(name, result, args as string[]) as F;
      } catch (err) {
        throw unavailable(`${library} lacks ${name}: ${(err as Error).message}`, err);
      }
    },
  };
}
