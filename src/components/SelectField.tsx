/** A labelled <select> over a fixed list of values (numbers or strings), as the controls use it. */
export function SelectField<T extends string | number>({
  label,
  value,
  options,
  onChange,
  testId,
  className = 'field',
  labelOf = String,
  title,
}: {
  label: string;
  value: T;
  options: readonly T[];
  onChange: (value: T) => void;
  testId: string;
  className?: string;
  /** How an option reads (default: its value). */
  labelOf?: (value: T) => string;
  /** Hover explanation of the field. */
  title?: string;
}) {
  return (
    <label className={className} title={title}>
      <span className="field__label">{label}</span>
      <select
        value={value}
        // Options are the only values a <select> can hold, so the string maps back to one of them.
        onChange={(e) => onChange(options.find((o) => String(o) === e.target.value) as T)}
        data-testid={testId}
      >
        {options.map((v) => (
          <option key={v} value={v}>
            {labelOf(v)}
          </option>
        ))}
      </select>
    </label>
  );
}
