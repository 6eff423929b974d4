import { lazyAddon } from '../core/native-addon.js';
import type { BamHeader } from './bam.js';
import type { SamOut } from './sam-text.js';

/**
 * SAM lines by htslib's own `sam_format1` (what `samtools view` prints with),
 * through the addon `openomics_sam` (native/sam_format_binding.c), built by `npm ci` when
 * Debian's libhts-dev is installed. Records the addon hands back (a CIGAR kept
 * in a CG tag, a read name without its NUL, anything htslib refuses) and
 * every record when the addon is absent or native.samRenderer is js go
 * through the JS renderer in sam-text.ts, which also owns the error messages.
 */
export interface SamScan {
  digest: string;
  readCount: number;
  baseCount: number;
  mappedCount: number;
  headerText: string;
}

interface Addon {
  scanSam(path: string, algorithm: string): Promise<SamScan>;
  header(names: string[], lengths: number[]): object;
  format(header: object, records: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number, state: Float64Array): number;
}

const samAddon = lazyAddon<Addon>('openomics_sam', (c) => (c.samRenderer === 'js' ? 'samRenderer: js' : undefined));

export const hasNativeSam = () => samAddon() !== undefined;

/**
 * Reads SAM text (`samtools view -h` output) from a file or FIFO on a libuv
 * thread: header lines kept, records hashed with `algorithm` and counted as
 * cram.ts's JS scanner counts them. Undefined when the addon is not there.
 */
export function nativeScanSam(path: string, algorithm: 'md5' | 'sha256' | 'sha512'): Promise<SamScan> | undefined {
  return samAddon()?.scanSam(path, algorithm);
}

/** Renders records with htslib; undefined when the addon is not there. */
export function nativeSamRenderer(header: BamHeader): NativeSamRenderer | undefined {
  const addon = samAddon();
  return addon && new NativeSamRenderer(addon, header);
}

export class NativeSamRenderer {
  private readonly handle: object;
  private readonly state = new Float64Array(3);

  constructor(
    private readonly addon: Addon,
    header: BamHeader,
  ) {
    this.handle = addon.header(
      header.references.map((r) => r.name),
      header.references.map((r) => r.length),
    );
  }

  /**
   * Renders whole records of buf[start, end) into `out`, flushing it when
   * full, and stops at the end or at a record htslib's path hands back.
   * Returns the offset reached and how many records were rendered.
   */
  render(buf: Buffer, start: number, end: number, out: SamOut): { at: number; rendered: number } {
    let at = start;
    let rendered = 0;
    for (;;) {
      const handBack = this.addon.format(this.handle, buf, at, end, out.buf, out.pos, this.state);
      const progressed = this.state[0]! > at;
      at = this.state[0]!;
      out.pos = this.state[1]!;
      rendered += this.state[2]!;
      if (at >= end || handBack === 1) return { at, rendered };
      // Out of room: flush and go on; a line longer than a whole empty buffer goes to the JS renderer.
      if (!progressed && out.pos === 0) return { at, rendered };
      out.flush();
    }
  }
}
