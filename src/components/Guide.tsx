import { useEffect, useRef } from 'react';
import { useAppStore } from '../store/storeContext';

/** The five ideas the studio's figures rest on, one sentence each (docs/method.md in short). */
const TERMS: readonly (readonly [string, string])[] = [
  [
    'Tile',
    'A weight matrix is cut into t1 × t2 blocks. Under CKKS each block is packed into one ciphertext (or encoded plaintext), so a block costs the same whether it holds one weight or all of them.',
  ],
  [
    'Ciphertext',
    'What the encrypted model stores and multiplies: one per tile that is not all zero and that the computation needs. Plain pruning leaves most tiles non-zero; HE-PEx empties whole tiles.',
  ],
  [
    'θ (theta)',
    'HE-PEx drops a tile that keeps at most θ of its weights (say 2 of 32: almost nothing, for a whole ciphertext) and gives every other tile all its weights back (expansion).',
  ],
  [
    'Orientation A / B',
    'How a layer is tiled: A cuts W as [out/t1, in/t2], B cuts Wᵀ as [in/t1, out/t2]. Layers alternate so no transposition is needed; B first saves a mask and a level after layer 1.',
  ],
  [
    'Ring degree N',
    'A ciphertext holds N/2 numbers: t1 × t2 weights × a batch of images. Larger N carries more levels (the model’s depth) at 128-bit security, but every operation costs more. Auto picks the smallest secure N.',
  ],
];

/**
 * A first-visit guide, out of the layout's way (it overlays the corner, so the counts and grid
 * stay where they are). Closed with the button or Escape; reopened with "What is this?".
 */
export function Guide() {
  const open = useAppStore((s) => s.guideOpen);
  const closeGuide = useAppStore((s) => s.closeGuide);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!open) return;
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') closeGuide();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, closeGuide]);
  if (!open) return null;
  return (
    <aside
      ref={ref}
      className="guide"
      role="dialog"
      aria-modal="false"
      aria-labelledby="guide-title"
      tabIndex={-1}
      data-testid="guide"
    >
      <h2 id="guide-title">What the studio shows</h2>
      <dl>
        {TERMS.map(([term, text]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{text}</dd>
          </div>
        ))}
      </dl>
      <p className="guide__hint">
        Every figure explains itself on hover. The first screen shows a trained autoencoder next to
        its shipped HE-PEx twin: compare the two ciphertext counts at the top.
      </p>
      <button type="button" className="button button--primary" onClick={() => closeGuide()}>
        Got it
      </button>
    </aside>
  );
}

/** Reopens the guide. */
export function GuideButton() {
  const openGuide = useAppStore((s) => s.openGuide);
  return (
    <button
      type="button"
      className="button button--ghost"
      onClick={openGuide}
      data-testid="guide-button"
    >
      What is this?
    </button>
  );
}
