"""LA boundary, normals, projection of scar onto the LA surface, and meshes."""
