import { useEffect, useState } from 'react';

/** The window's inner height in CSS pixels, updated on resize (the big grid sizes itself by it). */
export function useWindowHeight(): number {
  const [height, setHeight] = useState(() =>
    typeof window === 'undefined' ? 900 : window.innerHeight,
  );
  useEffect(() => {
    const onResize = () => setHeight(window.innerHeight);
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return height;
}
