export async function dhcpWorkload() { return { title: 'dhcp', error: 'not written yet', servers: {} }; }
