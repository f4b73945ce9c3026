/** What README.md's snippets assume the application has: a request and the code that serves it. */

/** The client's `Idempotency-Key` header. */
export const idempotencyKey = 'order-request-7f3a';

/** The request body. */
export const body = { sku: 'book-1', qty: 1 };

/** The application's own order creation. */
export async function createOrder(request: typeof body): Promise<{ orderId: string; qty: number }> {
  return { orderId: 'o-1', qty: request.qty };
}
