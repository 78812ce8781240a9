import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorBoundary } from '../../src/app/ErrorBoundary';

afterEach(cleanup);

let broken = true;
function Fragile() {
  const [n] = useState(1);
  if (broken) throw new Error('the grid could not be drawn');
  return <p>drawn {n}</p>;
}

describe('ErrorBoundary', () => {
  it('shows a render error in words instead of a blank page, and can try again', () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    render(
      <ErrorBoundary>
        <Fragile />
      </ErrorBoundary>,
    );
    expect(screen.getByRole('alert').textContent).toMatch(/the grid could not be drawn/);
    broken = false;
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(screen.getByText('drawn 1')).toBeTruthy();
    quiet.mockRestore();
  });
});
