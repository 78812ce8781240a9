/**
 * The header row of the studio's tables: text columns first, then right-aligned numeric ones.
 * `titles` adds a hover explanation to a column by its label.
 */
export function TableHead({
  text,
  numeric,
  titles = {},
}: {
  text: readonly string[];
  numeric: readonly string[];
  titles?: Readonly<Record<string, string>>;
}) {
  return (
    <thead>
      <tr>
        {text.map((label) => (
          <th key={label} scope="col" title={titles[label]}>
            {label}
          </th>
        ))}
        {numeric.map((label) => (
          <th key={label} scope="col" className="num" title={titles[label]}>
            {label}
          </th>
        ))}
      </tr>
    </thead>
  );
}
