export async function pxeWorkload() { return { title: 'pxe', error: 'not written yet', servers: {} }; }
