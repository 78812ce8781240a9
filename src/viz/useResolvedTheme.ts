import { useSyncExternalStore } from 'react';

const QUERY = '(prefers-color-scheme: dark)';

function subscribe(onChange: () => void): () => void {
  if (typeof window === 'undefined' || !window.matchMedia) return () => {};
  const mql = window.matchMedia(QUERY);
  mql.addEventListener('change', onChange);
  return () => mql.removeEventListener('change', onChange);
}

const systemIsDark = () => typeof window !== 'undefined' && !!window.matchMedia?.(QUERY).matches;

/** 'light' or 'dark': the choice, or the system's preference (followed live) when the choice is 'system'. */
export function useResolvedTheme(choice: 'system' | 'light' | 'dark'): 'light' | 'dark' {
  const dark = useSyncExternalStore(subscribe, systemIsDark, () => false);
  return choice === 'system' ? (dark ? 'dark' : 'light') : choice;
}
