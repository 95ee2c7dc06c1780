/**
 * Names that must be unique for good: a coordinator's epoch (one lineage of
 * state: a process on the memory store, or one Redis until it is lost) and
 * the change ids made in it. An epoch starts with the wall-clock time and
 * ends with random characters, so a restart, a store that came back empty,
 * a second replica or a clock that went back never makes a name an old
 * client has already seen.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/** A new epoch: base-36 milliseconds, then 6 random base-36 characters (31 bits). */
export const newEpoch = (now: number, random: () => number = Math.random): string => {
  let tail = ''
  for (let i = 0; i < 6; i++) tail += ALPHABET[Math.floor(random() * 36)]
  return `${Math.max(0, Math.floor(now)).toString(36)}${tail}`
}

/** Change ids of an epoch: `chg-<epoch>-<seq>`; without one (the engine alone, the simulator), `chg-<seq>`. */
export const changeId = (seq: number, epoch?: string): string =>
  epoch === undefined ? `chg-${seq}` : `chg-${epoch}-${seq}`
