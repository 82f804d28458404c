import { describe, expect, it } from 'vitest';
import { referenceAvailable, referenceChecks, referenceThroughput } from '../../bench/reference/run.js';
import { ARCHITECTURES } from '../../src/shared/arch/catalogue.js';
import { fashionConv } from '../../src/shared/arch/fashion.js';
import { describeCvae, type ParamInfo } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';

// The PyTorch reference of bench:train interprets the catalogue's specs; this keeps it able to.
// It needs python3-torch: CI installs it (CVAE_SETUP_TORCH=1 in .ci/run) and there the tests run,
// failing if torch is missing; elsewhere they are skipped when torch is absent.
const available = referenceAvailable();
const check = (spec: CvaeSpec, params?: ParamInfo[]) =>
  referenceThroughput(spec, { batch: 2, steps: 1, warmup: 0, threads: [1], checkOnly: true }, params);

describe.skipIf(available !== true && !process.env.CI)(
  `PyTorch reference (${available === true ? 'torch found' : available})`,
  () => {
    it('every architecture: the same tensors as the catalogue, and one training step runs', () => {
      const specs = Object.values(ARCHITECTURES);
      const results = referenceChecks(specs); // one Python process: torch imports once
      expect(results.map((r) => r.model)).toEqual(specs.map((s) => s.id));
      for (const [i, r] of results.entries()) {
        expect(r.parameters).toBe(describeCvae(specs[i] as CvaeSpec).parameterCount);
      }
    }, 120_000);

    it('refuses when its tensors and the catalogue differ', () => {
      // as if the project's interpreter gained a tensor (a wider layer, a new bias) the reference lacks
      const params = describeCvae(fashionConv).params;
      const wider = params.map((p) => (p.name === 'decoder.0.kernel' ? { ...p, shape: [144, 3137] } : p));
      expect(() => check(fashionConv, wider)).toThrow(
        /drifted from the catalogue: .*sizes differ \['decoder.0.kernel'\]/,
      );
      const extra = [...params, { ...(params[0] as ParamInfo), name: 'decoder.condition.bias', shape: [16] }];
      expect(() => check(fashionConv, extra)).toThrow(/missing \['decoder.condition.bias'\]/);
    }, 60_000);
  },
);
