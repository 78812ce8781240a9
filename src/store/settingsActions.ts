import type { StoreRuntime } from './runtime';

export interface SettingsActions {
  /**
   * What this browser kept from earlier visits: calibrated timings (the first screen is priced
   * with them) and whether the first-visit guide was closed (else it opens).
   */
  restoreSettings: () => void;
  openGuide: () => void;
  /** Closes the guide for good (remembered). */
  closeGuide: () => void;
}

const GUIDE_KEY = 'hepex.guide.v1';

export function createSettingsActions(rt: StoreRuntime): SettingsActions {
  const { set, get, deps } = rt;
  return {
    restoreSettings: () => {
      get().restoreCalibration();
      set({ guideOpen: deps.storage ? deps.storage.get(GUIDE_KEY) !== 'closed' : false });
    },
    openGuide: () => set({ guideOpen: true }),
    closeGuide: () => {
      set({ guideOpen: false });
      deps.storage?.set(GUIDE_KEY, 'closed');
    },
  };
}
