import { useRef } from 'react';

/**
 * A button that opens the system file chooser (a hidden multi-file input) and hands over the
 * chosen files. The input is cleared afterwards so choosing the same files again still fires.
 */
export function OpenFilesButton({
  label,
  inputLabel,
  accept,
  testId,
  onFiles,
}: {
  label: string;
  /** Accessible name of the hidden input (what the files should be). */
  inputLabel: string;
  accept?: string;
  testId: string;
  onFiles: (files: File[]) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" className="button" onClick={() => input.current?.click()}>
        {label}
      </button>
      <input
        ref={input}
        type="file"
        accept={accept}
        multiple
        hidden
        aria-label={inputLabel}
        data-testid={testId}
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length) onFiles(files);
        }}
      />
    </>
  );
}
