/**
 * What services need to know of the authority state, read at the single place each one decides to
 * answer. main.ts wires it to the authority runner; tests pass a constant.
 */
export interface AuthorityView {
  /** builderd answers DHCP with addresses (bootstrap mode). */
  dhcpAuthoritative(): boolean;
  /** builderd answers the site and reverse zones (bootstrap mode); the mgmt zone is always served. */
  siteDnsAuthoritative(): boolean;
  mode(): 'bootstrap' | 'production';
  epoch(): number;
  /** While a transition is planned: the shortest lease DHCP may hand out (seconds). */
  leaseTimeCap?(): number | undefined;
}

/** A fixed view (tests, or before the store is read). */
export function fixedAuthority(mode: 'bootstrap' | 'production', epoch = 1): AuthorityView {
  return {
    dhcpAuthoritative: () => mode === 'bootstrap',
    siteDnsAuthoritative: () => mode === 'bootstrap',
    mode: () => mode,
    epoch: () => epoch,
  };
}
