/**
 * File output that readers never see half-written: data goes to a temporary file in the target's
 * directory, which is then renamed over the target.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { UserError } from "./cli.ts";

/**
 * Write `data` to `path` atomically, creating missing parent directories.
 *
 * The data goes to a temporary file beside `path`, is synced to disk, and is then renamed over
 * `path`. Readers, and the next run after a crash, see either the old file or the complete new
 * one. Strings are written as UTF-8. On failure the temporary file is removed and the error is
 * rethrown.
 *
 * NOTE: the parent directory is not synced, so after a power loss the rename itself may be lost
 * and `path` may still contain its previous content.
 *
 * @throws {Deno.errors.PermissionDenied} without read and write permission for the directory
 * @throws {Error} whatever `Deno.mkdir`, `Deno.open` or `Deno.rename` raise, for example when
 *   `path` is a directory
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });

  // A dot name in the same directory keeps the rename on one file system and out of `ls`.
  const suffix = crypto.randomUUID().slice(0, 8);
  const tempPath = join(dir, `.${basename(path)}.${suffix}.tmp`);
  try {
    const file = await Deno.open(tempPath, { write: true, createNew: true, mode: 0o644 });
    try {
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tempPath, path);
  } catch (error) {
    await Deno.remove(tempPath).catch(() => {});
    throw error;
  }
}

/**
 * Create the output folder `path` of flag `flagName` if needed and check that files can be
 * written in it, so that a bad output path fails before training rather than after it.
 *
 * @throws {UserError} naming the flag, the folder and the reason
 */
export async function prepareOutputFolder(path: string, flagName: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (info !== undefined && !info.isDirectory) {
    throw new UserError(`Invalid ${flagName} ${path}: it is a file, not a folder`, {
      hint: `Pass ${flagName} a folder, or a path where one can be created.`,
    });
  }
  try {
    await Deno.mkdir(path, { recursive: true });
    const probe = await Deno.makeTempFile({ dir: path, prefix: ".write-test-" });
    await Deno.remove(probe);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserError(`Cannot write to ${flagName} ${path}: ${reason}`, {
      hint: `Pass ${flagName} a folder that can be created and written.`,
      cause: error,
    });
  }
}
