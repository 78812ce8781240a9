import { useAppStore } from '../store/storeContext';
import type { ConversionSummary } from '../store/conversionActions';

const figure = (metric: ConversionSummary['metric'], v: number): string =>
  metric === 'accuracy' ? `${(v * 100).toFixed(2)}%` : `MSE ${v.toExponential(3)}`;

/**
 * A model file CKKS cannot evaluate yet: says which activation stops it and offers the
 * conversion (the busy bar shows its progress and Cancel); afterwards, the three figures.
 */
export function ConversionNotice() {
  const offer = useAppStore((s) => s.conversion);
  const convert = useAppStore((s) => s.convertOffered);
  const dismiss = useAppStore((s) => s.dismissConversion);
  if (!offer) return null;
  const report = offer.report;
  return (
    <div className="link-notice" role="status" data-testid="conversion-notice">
      <div>
        {report ? (
          <>
            <strong>
              {offer.label} converted: its {offer.activations} became degree-2 polynomials.
            </strong>
            <p data-testid="conversion-report">
              {report.metric === 'accuracy' ? 'Accuracy' : 'Reconstruction'}: original{' '}
              {figure(report.metric, report.original)}, after the fit{' '}
              {figure(report.metric, report.fitted)}, after {report.epochs} fine-tune epochs{' '}
              {figure(report.metric, report.fineTuned)}.
            </p>
          </>
        ) : (
          <>
            <strong>This model uses {offer.activations}, which CKKS cannot evaluate.</strong>
            <p>
              Encrypted inference computes only additions and multiplications. Converting fits a
              degree-2 polynomial to each activation on training digits, then fine-tunes the network
              to follow the original model; the model shown now stays until it succeeds.
            </p>
          </>
        )}
      </div>
      {!report && (
        <button
          type="button"
          className="button"
          onClick={() => void convert()}
          disabled={offer.status === 'running'}
        >
          {offer.status === 'running' ? 'Converting…' : 'Convert to polynomial activations'}
        </button>
      )}
      <button
        type="button"
        className="button button--ghost"
        onClick={dismiss}
        aria-label="Dismiss the conversion notice"
        disabled={offer.status === 'running'}
      >
        Dismiss
      </button>
    </div>
  );
}
