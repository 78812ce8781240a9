/** A radio group drawn as a segmented button bar: keyboard-operable, one choice at a time. */
export function SegmentedControl<T extends string>({
  name,
  ariaLabel,
  value,
  options,
  labelOf,
  onChange,
  small = false,
}: {
  /** The radio group's name (unique per page: pass a useId-based name). */
  name: string;
  ariaLabel: string;
  value: T;
  options: readonly T[];
  labelOf: (option: T) => string;
  onChange: (value: T) => void;
  small?: boolean;
}) {
  return (
    <div
      className={`segmented${small ? ' segmented--small' : ''}`}
      role="radiogroup"
      aria-label={ariaLabel}
    >
      {options.map((option) => (
        <label key={option} className={`segmented__option${option === value ? ' is-active' : ''}`}>
          <input
            type="radio"
            name={name}
            value={option}
            checked={option === value}
            onChange={() => onChange(option)}
          />
          {labelOf(option)}
        </label>
      ))}
    </div>
  );
}
