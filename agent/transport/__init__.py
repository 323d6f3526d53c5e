"""How the agent talks: the WebSocket server, the request pipeline of both endpoints, the connection rules' drivers."""
