/**
 * The header row of the studio's tables: text columns first, then right-aligned numeric ones,
 * one header cell per column. `titles` adds a hover explanation to a column by its label;
 * `hidden` labels are read by screen readers but not shown (e.g. a checkbox column).
 */
export function TableHead({
  text,
  numeric,
  titles = {},
  hidden = [],
}: {
  text: readonly string[];
  numeric: readonly string[];
  titles?: Readonly<Record<string, string>>;
  hidden?: readonly string[];
}) {
  const label = (l: string) =>
    hidden.includes(l) ? <span className="visually-hidden">{l}</span> : l;
  return (
    <thead>
      <tr>
        {text.map((l) => (
          <th key={l} scope="col" title={titles[l]}>
            {label(l)}
          </th>
        ))}
        {numeric.map((l) => (
          <th key={l} scope="col" className="num" title={titles[l]}>
            {label(l)}
          </th>
        ))}
      </tr>
    </thead>
  );
}
