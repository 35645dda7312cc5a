/**
 * A check that the comparison scripts run before they time anything, so a missing interpreter
 * or NumPy is reported at once instead of after the engine's epochs.
 *
 * @module
 */

import { UserError } from "@nn/core";

/**
 * Run `python -c "import numpy"`.
 *
 * @throws {UserError} when the interpreter cannot be started or cannot import NumPy
 */
export async function assertNumpy(python: string): Promise<void> {
  const hint = "Pass --python with an interpreter that has NumPy.";
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(python, {
      args: ["-c", "import numpy"],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (error) {
    throw new UserError(
      `Cannot run --python ${python}: ${error instanceof Error ? error.message : error}`,
      { hint },
    );
  }
  if (!output.success) {
    throw new UserError(`--python ${python} cannot import numpy (exit code ${output.code})`, {
      hint,
    });
  }
}
