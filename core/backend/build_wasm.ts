/**
 * Assemble `kernels.wat` into the two committed binaries:
 *
 * - `kernels_relaxed.wasm`: SIMD128 plus relaxed SIMD (`f32x4.relaxed_madd` becomes a fused
 *   multiply-add on CPUs with FMA);
 * - `kernels_simd.wasm`: plain SIMD128, where each `(f32x4.relaxed_madd a b c)` is rewritten as
 *   `(f32x4.add (f32x4.mul a b) c)`.
 *
 * Usage: `deno task build:wasm` writes both files; `deno task check:wasm` (`--check`) exits 1 when
 * a committed binary differs from a fresh build, so CI catches a stale binary.
 *
 * @module
 */

import initWabt from "wabt";

const SOURCE = new URL("./kernels.wat", import.meta.url);

/** Output file names and whether each keeps relaxed SIMD. */
export const BUILDS = [
  { file: "kernels_relaxed.wasm", relaxed: true },
  { file: "kernels_simd.wasm", relaxed: false },
] as const;

/** Assemble WebAssembly text into a binary with the SIMD, relaxed-SIMD and threads features. */
export async function assemble(name: string, source: string): Promise<Uint8Array> {
  const wabt = await initWabt();
  const features = { simd: true, relaxed_simd: true, threads: true };
  const module = wabt.parseWat(name, source, features);
  try {
    module.resolveNames();
    // wabt's typings omit validate's feature argument, which its JavaScript API accepts.
    (module.validate as (features: object) => void)(features);
    return module.toBinary({ log: false, write_debug_names: true }).buffer;
  } finally {
    module.destroy();
  }
}

/** Rewrite every folded `(f32x4.relaxed_madd a b c)` into `(f32x4.add (f32x4.mul a b) c)`. */
export function lowerRelaxedMadd(source: string): string {
  const head = "(f32x4.relaxed_madd";
  let out = "";
  let pos = 0;
  for (;;) {
    const at = source.indexOf(head, pos);
    if (at < 0) return out + source.slice(pos);
    out += source.slice(pos, at);
    let cursor = at + head.length;
    const operands: string[] = [];
    for (let i = 0; i < 3; i++) {
      cursor = skipSpace(source, cursor);
      const end = endOfExpression(source, cursor);
      operands.push(lowerRelaxedMadd(source.slice(cursor, end)));
      cursor = end;
    }
    cursor = skipSpace(source, cursor);
    if (source[cursor] !== ")") {
      throw new SyntaxError(
        `kernels.wat: f32x4.relaxed_madd at offset ${at} must have exactly three folded operands`,
      );
    }
    out += `(f32x4.add (f32x4.mul ${operands[0]} ${operands[1]}) ${operands[2]})`;
    pos = cursor + 1;
  }
}

function skipSpace(s: string, i: number): number {
  for (;;) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (s.startsWith(";;", i)) {
      while (i < s.length && s[i] !== "\n") i++;
    } else {
      return i;
    }
  }
}

/** Return the index just past the expression (a parenthesized list or an atom) at `i`. */
function endOfExpression(s: string, i: number): number {
  if (s[i] !== "(") {
    while (i < s.length && !/[\s()]/.test(s[i])) i++;
    return i;
  }
  let depth = 0;
  for (; i < s.length; i++) {
    if (s.startsWith(";;", i)) {
      while (i < s.length && s[i] !== "\n") i++;
    } else if (s[i] === "(") {
      depth++;
    } else if (s[i] === ")" && --depth === 0) {
      return i + 1;
    }
  }
  throw new SyntaxError("kernels.wat: unbalanced parentheses");
}

/** Build both binaries from the source text. */
export async function buildAll(source: string): Promise<Map<string, Uint8Array>> {
  const binaries = new Map<string, Uint8Array>();
  for (const { file, relaxed } of BUILDS) {
    const text = relaxed ? source : lowerRelaxedMadd(source);
    binaries.set(file, await assemble("kernels.wat", text));
  }
  return binaries;
}

async function main(): Promise<number> {
  const check = Deno.args.includes("--check");
  const binaries = await buildAll(await Deno.readTextFile(SOURCE));
  let stale = 0;
  for (const [file, bytes] of binaries) {
    const url = new URL(`./${file}`, import.meta.url);
    if (check) {
      const committed = await Deno.readFile(url).catch(() => new Uint8Array());
      const same = committed.length === bytes.length && committed.every((b, i) => b === bytes[i]);
      console.log(`${file}: ${same ? "up to date" : "STALE (run deno task build:wasm)"}`);
      if (!same) stale++;
    } else {
      const tmp = `${url.pathname}.tmp`;
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, url.pathname);
      console.log(`${file}: ${bytes.length} bytes`);
    }
  }
  return stale ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
