export async function httpWorkload() { return { title: 'http', error: 'not written yet', servers: {} }; }
